/**
 * Decompression of a recording file that does not trust the file's framing: gzip and zstd
 * streams that are truncated, followed by garbage, or empty yield every byte that decodes
 * before the damage, then report the damage with its byte offset in the compressed file.
 *
 * - gzip (`node:zlib`): the stream is decoded in chunks; when the decoder fails, the failing
 *   region is decoded again from the start of the file one byte at a time, so the output
 *   the decoder dropped with its error is recovered and the exact byte found.
 * - zstd: a framing walker (`zstd_frames.ts`) hands the decoder only complete blocks of
 *   well-formed frames (skippable frames skipped): bytes that start no frame (a garbage
 *   tail) and a frame cut short are found by the walker, since `node:zlib`'s zstd decoder
 *   stops silently at both.
 * @module
 */
import { constants, createGunzip, createZstdDecompress } from "node:zlib";
import type { Transform } from "node:stream";
import { ZstdFrames } from "./_zstd_frames.ts";

/** Where and how a compressed file is damaged. */
export interface StreamDamage {
  /** Byte offset in the compressed file where the damage starts. */
  readonly offset: number;
  /** What is wrong, e.g. "truncated", "not a zstd frame". */
  readonly reason: string;
}

/** Options of {@linkcode decompressFile}. */
export interface DecompressOptions {
  /** Called with the number of compressed bytes read so far (progress). */
  readonly onBytes?: (bytesRead: number) => void;
  /** Called once when the file is damaged, after every byte before the damage was yielded. */
  readonly onDamage?: (damage: StreamDamage) => void;
}

const CHUNK = 64 * 1024;

/** Yields the decompressed bytes of a gzip or zstd file (see the module doc). */
export function decompressFile(
  path: string,
  compression: "gzip" | "zstd",
  options: DecompressOptions = {},
): AsyncGenerator<Uint8Array> {
  return compression === "gzip" ? gunzipFile(path, options) : unzstdFile(path, options);
}

async function* gunzipFile(path: string, options: DecompressOptions): AsyncGenerator<Uint8Array> {
  let produced = 0;
  let offset = 0;
  let failure: { start: number; reason: string } | undefined;
  const z = new Engine(createGunzip());
  for await (const chunk of fileChunks(path)) {
    const error = await z.write(chunk);
    yield* z.take((n) => (produced += n));
    if (error) {
      // The decoder may report an error one write late: look from the chunk before on.
      failure = { start: Math.max(0, offset - CHUNK), reason: error.message };
      break;
    }
    offset += chunk.byteLength;
    options.onBytes?.(offset);
  }
  if (!failure) {
    if (offset === 0) {
      options.onDamage?.({ offset: 0, reason: "empty file: no gzip stream" });
      return;
    }
    const error = await z.end();
    yield* z.take((n) => (produced += n));
    if (!error) {
      // The decoder stops quietly at bytes after the stream that start with 0x00.
      if (z.bytesWritten < offset) {
        options.onDamage?.({ offset: z.bytesWritten, reason: GZIP_TAIL });
      }
      return;
    }
    failure = { start: Math.max(0, offset - CHUNK), reason: error.message };
  }
  z.destroy();
  // Decode again up to the failing region, then byte by byte: the output the decoder
  // dropped with its error comes back and the failing byte is found.
  const salvage = new Engine(createGunzip({ finishFlush: constants.Z_SYNC_FLUSH }));
  let skip = produced;
  let at = 0;
  let damage: StreamDamage | undefined;
  const emit = function* (): Generator<Uint8Array> {
    for (const out of salvage.take()) {
      if (skip >= out.byteLength) {
        skip -= out.byteLength;
        continue;
      }
      yield skip > 0 ? out.subarray(skip) : out;
      skip = 0;
    }
  };
  for await (const chunk of fileChunks(path)) {
    const whole = at + chunk.byteLength <= failure.start;
    const pieces = whole ? [chunk] : bytesOf(chunk, Math.max(0, failure.start - at));
    for (const piece of pieces) {
      const error = await salvage.write(piece);
      yield* emit();
      if (error) {
        damage = { offset: at, reason: describeGzipError(error.message) };
        break;
      }
      at += piece.byteLength;
    }
    if (damage) break;
  }
  if (!damage) {
    await salvage.end();
    yield* emit();
    damage = { offset: at, reason: "truncated: the file ends inside its gzip stream" };
  }
  salvage.destroy();
  options.onBytes?.(at);
  options.onDamage?.(damage);
}

async function* unzstdFile(path: string, options: DecompressOptions): AsyncGenerator<Uint8Array> {
  const frames = new ZstdFrames();
  const z = new Engine(createZstdDecompress());
  let offset = 0;
  let damage: StreamDamage | undefined;
  for await (const chunk of fileChunks(path)) {
    offset += chunk.byteLength;
    options.onBytes?.(offset);
    const { blocks, error } = frames.push(chunk);
    for (const block of blocks) {
      const failed = await z.write(block.bytes);
      yield* z.take();
      if (failed) {
        damage = { offset: block.offset, reason: `corrupt zstd block: ${failed.message}` };
        break;
      }
    }
    damage ??= error;
    if (damage) break;
  }
  damage ??= frames.end();
  if (!damage) {
    const failed = await z.end();
    yield* z.take();
    if (failed) damage = { offset, reason: `corrupt zstd data: ${failed.message}` };
  }
  z.destroy();
  if (damage) options.onDamage?.(damage);
}

const GZIP_TAIL = "bytes after the gzip stream that are not gzip (garbage or a cut-off member)";

function describeGzipError(message: string): string {
  return message === "incorrect header check" ? GZIP_TAIL : message;
}

/** `chunk` as one-byte views from `from` on (the bytes before it as one piece). */
function bytesOf(chunk: Uint8Array, from: number): Uint8Array[] {
  const out = from > 0 ? [chunk.subarray(0, from)] : [];
  for (let i = from; i < chunk.byteLength; i++) out.push(chunk.subarray(i, i + 1));
  return out;
}

async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  while (true) {
    const buffer = new Uint8Array(CHUNK);
    const n = await file.read(buffer);
    if (n === null) return;
    if (n > 0) yield buffer.subarray(0, n);
  }
}

/** A `node:zlib` decoder driven by promises: each call settles, error or not. */
class Engine {
  readonly #z: Transform;
  #out: Uint8Array[] = [];
  #error: Error | undefined;
  #waiters: ((error: Error | undefined) => void)[] = [];
  #ended = false;

  constructor(z: Transform) {
    this.#z = z;
    z.on("data", (c: Uint8Array) => {
      this.#out.push(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
    });
    z.on("error", (error: Error) => {
      this.#error ??= error;
      this.#settle();
    });
    z.on("end", () => {
      this.#ended = true;
      this.#settle();
    });
  }

  /** Writes `bytes`; resolves when they are decoded, to the decoder's error if any. */
  write(bytes: Uint8Array): Promise<Error | undefined> {
    if (this.#error) return Promise.resolve(this.#error);
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#z.write(bytes, () => this.#settle());
    });
  }

  /** Ends the input; resolves when the decoder finished, to its error if any. */
  end(): Promise<Error | undefined> {
    if (this.#error || this.#ended) return Promise.resolve(this.#error);
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#z.end();
    });
  }

  /** The output so far (handed over once), each chunk's length to `count`. */
  *take(count?: (n: number) => void): Generator<Uint8Array> {
    const out = this.#out;
    this.#out = [];
    for (const c of out) {
      count?.(c.byteLength);
      yield c;
    }
  }

  /** Compressed bytes the decoder consumed. */
  get bytesWritten(): number {
    return (this.#z as unknown as { bytesWritten: number }).bytesWritten;
  }

  destroy(): void {
    this.#z.destroy();
  }

  #settle(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w(this.#error);
  }
}
