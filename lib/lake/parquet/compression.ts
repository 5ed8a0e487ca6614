/**
 * Page compression: zstd through `node:zlib` (at Polars' default level, 3), or none.
 * @module
 */
import { constants, zstdCompressSync } from "node:zlib";

/** The codecs the encoder writes. */
export type Compression = "zstd" | "uncompressed";

/** Parquet's `CompressionCodec` numbers. */
export const CODEC: Readonly<Record<Compression, number>> = { uncompressed: 0, zstd: 6 };

/** The zstd level Polars writes with when none is given (zstd's default). */
export const DEFAULT_ZSTD_LEVEL = 3;

/** A function compressing a page's bytes (the result may be the input itself). */
export type Compressor = (bytes: Uint8Array) => Uint8Array;

/** The compressor of `compression` at `level` (zstd 1 to 22). */
export function compressor(compression: Compression, level = DEFAULT_ZSTD_LEVEL): Compressor {
  if (compression === "uncompressed") return (bytes) => bytes.slice();
  if (compression !== "zstd") throw new TypeError(`parquet: unknown compression ${compression}`);
  if (!(Number.isInteger(level) && level >= 1 && level <= 22)) {
    throw new RangeError(`parquet: zstd level must be an integer 1..22, got ${level}`);
  }
  const options = { params: { [constants.ZSTD_c_compressionLevel]: level } };
  return (bytes) => zstdCompressSync(bytes, options);
}
