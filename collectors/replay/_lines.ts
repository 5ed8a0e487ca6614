/**
 * Streams the lines of a (possibly compressed) file without loading it whole. A damaged
 * compressed file (truncated, garbage after its end, empty) yields every complete line
 * before the damage and reports the damage (see `_decompress.ts`).
 * @module
 */
import { decompressFile, type StreamDamage } from "./_decompress.ts";

export type { StreamDamage } from "./_decompress.ts";

/** Options for {@linkcode readLines}. */
export interface ReadLinesOptions {
  /** Decompression to apply: by default from the extension (`.gz` gzip, `.zst` zstd). */
  readonly compression?: "gzip" | "zstd" | "none";
  /** Called with the number of compressed bytes read so far (progress). */
  readonly onBytes?: (bytesRead: number) => void;
  /**
   * Called once when a compressed file is damaged, after every complete line before the
   * damage was yielded (a line the damage cuts short is not yielded). Without it, damage
   * is thrown as a `RangeError` once those lines were yielded.
   */
  readonly onDamage?: (damage: StreamDamage) => void;
}

/** Yields the lines of a UTF-8 text file (without line terminators). */
export async function* readLines(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<string> {
  const compression = options.compression ??
    (path.endsWith(".gz") ? "gzip" : path.endsWith(".zst") ? "zstd" : "none");
  let damage: StreamDamage | undefined;
  const bytes = compression === "none" ? plainChunks(path, options.onBytes) : decompressFile(
    path,
    compression,
    { onBytes: options.onBytes, onDamage: (d) => (damage = d) },
  );
  const decoder = new TextDecoder();
  let rest = "";
  for await (const piece of bytes) {
    const chunk = decoder.decode(piece, { stream: true });
    let start = 0;
    let nl = chunk.indexOf("\n");
    if (nl < 0) {
      rest += chunk;
      continue;
    }
    let line = rest + chunk.slice(0, nl);
    for (;;) {
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
      start = nl + 1;
      nl = chunk.indexOf("\n", start);
      if (nl < 0) break;
      line = chunk.slice(start, nl);
    }
    rest = chunk.slice(start);
  }
  if (damage === undefined) {
    rest += decoder.decode();
    if (rest.length > 0) yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
    return;
  }
  if (options.onDamage === undefined) {
    throw new RangeError(`${path} is damaged at byte ${damage.offset}: ${damage.reason}`);
  }
  options.onDamage(damage);
}

async function* plainChunks(
  path: string,
  onBytes?: (bytesRead: number) => void,
): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  let bytes = 0;
  while (true) {
    const buffer = new Uint8Array(64 * 1024);
    const n = await file.read(buffer);
    if (n === null) return;
    bytes += n;
    onBytes?.(bytes);
    if (n > 0) yield buffer.subarray(0, n);
  }
}
