/**
 * Row-group concatenation: Parquet files of one schema into one file whose row groups are
 * the inputs' row groups in order, their column chunks' bytes copied as they are (no page
 * is decoded), under a new footer whose offsets point at the copies. Column / offset indexes
 * and bloom filters are not copied, and their offsets are dropped from the footer; the
 * inputs' key-value metadata is kept when every input has the same, else dropped. One input
 * is open at a time, and one column chunk of it in memory.
 * @module
 */
import { type ParquetFooter, readAt, readFooterOf, type SchemaNode } from "./footer.ts";
import { encodeStruct, type ThriftFields, type ThriftNode } from "./thrift_reader.ts";

/** What {@linkcode concatParquetFiles} wrote. */
export interface ConcatResult {
  readonly rows: number;
  readonly rowGroups: number;
  readonly bytes: number;
}

const MAGIC = new TextEncoder().encode("PAR1");

/** Whether two schemas are the same (names, types, repetitions, nesting, logical types). */
export function sameSchema(a: ParquetFooter, b: ParquetFooter): boolean {
  const ra = a.raw.get(2);
  const rb = b.raw.get(2);
  if (ra?.t !== "list" || rb?.t !== "list" || ra.v.length !== rb.v.length) return false;
  const key = (s: SchemaNode) =>
    `${s.name}|${s.type}|${s.repetition}|${s.numChildren}|${s.convertedType}`;
  for (let i = 0; i < a.schema.length; i++) {
    if (key(a.schema[i]) !== key(b.schema[i])) return false;
    // Logical type (field 10) and the rest of the element, byte for byte.
    const ea = ra.v[i];
    const eb = rb.v[i];
    if (ea.t !== "struct" || eb.t !== "struct") return false;
    if (!equalBytes(encodeStruct(withoutFieldId(ea.v)), encodeStruct(withoutFieldId(eb.v)))) {
      return false;
    }
  }
  return true;
}

function withoutFieldId(fields: ThriftFields): ThriftFields {
  const out = new Map(fields);
  out.delete(9); // field_id: an id, not a type
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function i64(v: number): ThriftNode {
  return { t: "i64", v: BigInt(v) };
}

function shifted(node: ThriftNode | undefined, by: number): ThriftNode | undefined {
  if (node === undefined) return undefined;
  if (node.t !== "i64") throw new TypeError(`parquet concat: an offset is a ${node.t}`);
  return { t: "i64", v: node.v + BigInt(by) };
}

function setOrDelete(fields: ThriftFields, id: number, node: ThriftNode | undefined): void {
  if (node === undefined) fields.delete(id);
  else fields.set(id, node);
}

/** A `ColumnChunk` with its offsets moved by `by` and its index / bloom filter offsets dropped. */
function movedChunk(raw: ThriftFields, by: number): ThriftFields {
  const c = new Map(raw);
  setOrDelete(c, 2, shifted(c.get(2), by)); // file_offset
  for (const id of [4, 5, 6, 7]) c.delete(id); // offset / column index offsets and lengths
  const meta = c.get(3);
  if (meta?.t !== "struct") throw new TypeError("parquet concat: column chunk without metadata");
  const m = new Map(meta.v);
  setOrDelete(m, 9, shifted(m.get(9), by)); // data_page_offset
  setOrDelete(m, 11, shifted(m.get(11), by)); // dictionary_page_offset
  for (const id of [10, 14, 15]) m.delete(id); // index page, bloom filter offset and length
  c.set(3, { t: "struct", v: m });
  return c;
}

/**
 * Writes to `output` one Parquet file holding the row groups of `inputs` (paths), in order,
 * their column chunks copied byte for byte. Throws `TypeError` when an input's schema
 * differs from the first one's, or for no input.
 */
export async function concatParquetFiles(
  inputs: readonly string[],
  output: string,
): Promise<ConcatResult> {
  if (inputs.length === 0) throw new TypeError("parquet concat: no input file");
  using out = await Deno.open(output, { write: true, create: true, truncate: true });
  let at = 0;
  const write = async (bytes: Uint8Array) => {
    for (let done = 0; done < bytes.length;) {
      done += await out.write(bytes.subarray(done));
    }
    at += bytes.length;
  };
  await write(MAGIC);
  let first: ParquetFooter | undefined;
  let keyValue: ThriftNode | undefined;
  let sameKeyValue = true;
  const groups: ThriftNode[] = [];
  let rows = 0;
  for (const path of inputs) {
    using file = await Deno.open(path, { read: true });
    const footer = await readFooterOf(file, (await file.stat()).size);
    if (first === undefined) {
      first = footer;
      keyValue = footer.raw.get(5);
    } else {
      if (!sameSchema(first, footer)) {
        throw new TypeError(`parquet concat: ${path} has another schema than ${inputs[0]}`);
      }
      const kv = footer.raw.get(5);
      if (
        (kv === undefined) !== (keyValue === undefined) ||
        (kv !== undefined && keyValue !== undefined &&
          !equalBytes(encodeStruct(new Map([[1, kv]])), encodeStruct(new Map([[1, keyValue]]))))
      ) sameKeyValue = false;
    }
    const rawGroups = footer.raw.get(4);
    const rawList = rawGroups?.t === "list" ? rawGroups.v : [];
    for (let g = 0; g < footer.rowGroups.length; g++) {
      const group = footer.rowGroups[g];
      const rawGroup = rawList[g];
      if (rawGroup?.t !== "struct") throw new TypeError("parquet concat: bad row group");
      const rawChunks = rawGroup.v.get(1);
      if (rawChunks?.t !== "list") throw new TypeError("parquet concat: row group without columns");
      const chunks: ThriftNode[] = [];
      const groupStart = at;
      for (let c = 0; c < group.columns.length; c++) {
        const chunk = group.columns[c];
        const rawChunk = rawChunks.v[c];
        if (rawChunk.t !== "struct") throw new TypeError("parquet concat: bad column chunk");
        const by = at - chunk.start;
        await write(await readAt(file, chunk.start, chunk.totalCompressedSize));
        chunks.push({ t: "struct", v: movedChunk(rawChunk.v, by) });
      }
      const moved = new Map(rawGroup.v);
      moved.set(1, { t: "list", elem: rawChunks.elem, v: chunks });
      moved.set(5, i64(groupStart)); // file_offset: the group's first byte
      moved.delete(7); // ordinal: the position in the input
      groups.push({ t: "struct", v: moved });
      rows += group.numRows;
    }
  }
  const meta = new Map(first!.raw);
  meta.set(3, i64(rows));
  meta.set(4, { t: "list", elem: 12, v: groups });
  if (!sameKeyValue) meta.delete(5);
  const footer = encodeStruct(meta);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, footer.length, true);
  await write(footer);
  await write(length);
  await write(MAGIC);
  return { rows, rowGroups: groups.length, bytes: at };
}
