/**
 * Streams the lines of a (possibly compressed) file without loading it whole.
 * @module
 */
import { zstdDecompressStream } from "./_zstd.ts";

/** Options for {@linkcode readLines}. */
export interface ReadLinesOptions {
  /** Decompression to apply: by default from the extension (`.gz` gzip, `.zst` zstd). */
  readonly compression?: "gzip" | "zstd" | "none";
  /** Called with the number of compressed bytes read so far (progress). */
  readonly onBytes?: (bytesRead: number) => void;
}

/** Yields the lines of a UTF-8 text file (without line terminators). */
export async function* readLines(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<string> {
  const file = await Deno.open(path, { read: true });
  let bytes = 0;
  const counted = file.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        options.onBytes?.(bytes);
        controller.enqueue(chunk);
      },
    }),
  );
  const compression = options.compression ??
    (path.endsWith(".gz") ? "gzip" : path.endsWith(".zst") ? "zstd" : "none");
  const raw = compression === "gzip"
    ? counted.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
    )
    : compression === "zstd"
    ? counted.pipeThrough(zstdDecompressStream())
    : counted;
  const text = raw.pipeThrough(new TextDecoderStream());
  let rest = "";
  for await (const chunk of text) {
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
  if (rest.length > 0) yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
}
