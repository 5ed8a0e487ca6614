/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum Kraken uses.
 * @module
 */

/** Lookup table, one entry per byte value. */
const CRC32_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function nextTable(prev: Uint32Array): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) table[n] = (prev[n] >>> 8) ^ CRC32_TABLE[prev[n] & 0xff];
  return table;
}

/** Slicing-by-8 tables: `CRC32_SLICE[k]` advances a byte by k more positions. */
export const CRC32_SLICE: readonly Uint32Array[] = (() => {
  const tables = [CRC32_TABLE];
  for (let k = 1; k < 8; k++) tables.push(nextTable(tables[k - 1]));
  return tables;
})();
