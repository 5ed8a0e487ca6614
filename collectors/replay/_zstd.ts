/**
 * zstd decompression as a web `TransformStream`, over `node:zlib` (Deno has no native zstd
 * `DecompressionStream`). Safe to cancel early: a reader that stops after a few lines (the
 * exchange detection does) must not crash the process with late output.
 * @module
 */
import { createZstdDecompress } from "node:zlib";

/** A stream that decompresses zstd bytes. */
export function zstdDecompressStream(): TransformStream<Uint8Array, Uint8Array> {
  const zstd = createZstdDecompress();
  let controller: TransformStreamDefaultController<Uint8Array> | undefined;
  let failure: unknown;
  let cancelled = false;
  zstd.on("data", (chunk: Uint8Array) => {
    if (cancelled || controller === undefined) return;
    try {
      controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch {
      cancelled = true; // the reader went away
      zstd.destroy();
    }
  });
  zstd.on("error", (error: unknown) => {
    failure = error;
  });
  return new TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      controller = c;
    },
    transform(chunk) {
      if (failure !== undefined) throw failure;
      return new Promise<void>((resolve, reject) => {
        zstd.write(chunk, (error) => (error ? reject(error) : resolve()));
      });
    },
    flush() {
      if (failure !== undefined) throw failure;
      return new Promise<void>((resolve, reject) => {
        zstd.once("end", () => resolve());
        zstd.once("error", reject);
        zstd.end();
      });
    },
    cancel() {
      cancelled = true;
      zstd.destroy();
    },
  });
}
