/**
 * zstd decompression into a buffer the caller keeps ({@linkcode zstdDecompressInto}): the
 * pages of a file read one after the other land in the same memory instead of a fresh
 * buffer each (`zstdDecompressSync`'s), whose first touch costs page faults.
 * @module
 */
import zlib from "node:zlib";

/** The low-level handle of a `node:zlib` stream (Node's binding, as Deno provides it). */
interface ZlibHandle {
  reset(): void;
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
}

interface Engine {
  readonly handle: ZlibHandle;
  /** `[output bytes left, input bytes left]` after a `writeSync`. */
  readonly state: Uint32Array;
  readonly flush: number;
}

let engine: Engine | null | undefined;

/** The stream's handle when this runtime has one as Node does (else `null`). */
function engineOf(): Engine | null {
  if (engine !== undefined) return engine;
  engine = null;
  try {
    const stream = zlib.createZstdDecompress() as unknown as {
      _handle?: Partial<ZlibHandle>;
      _writeState?: unknown;
      _finishFlushFlag?: unknown;
    };
    const { _handle: handle, _writeState: state, _finishFlushFlag: flush } = stream;
    if (
      typeof handle?.writeSync === "function" && typeof handle.reset === "function" &&
      state instanceof Uint32Array && state.length >= 2 && typeof flush === "number"
    ) engine = { handle: handle as ZlibHandle, state, flush };
  } catch {
    engine = null;
  }
  return engine;
}

/**
 * Decompresses the zstd frame `input`, expected to be `size` bytes, into `output` (at least
 * `size` long); returns `output.subarray(0, size)`, or a new array where the runtime has no
 * stream handle to write into `output`. Throws when `input` is no zstd frame of `size` bytes.
 */
export function zstdDecompressInto(
  input: Uint8Array,
  size: number,
  output: Uint8Array,
): Uint8Array {
  const e = engineOf();
  if (e !== null && output.length >= size) {
    let ok = false;
    try {
      e.handle.reset();
      // One byte of room past `size`: a frame longer than announced shows as a longer output.
      const room = Math.min(output.length, size + 1);
      e.handle.writeSync(e.flush, input, 0, input.length, output, 0, room);
      ok = room - e.state[0] === size && e.state[1] === 0;
    } catch {
      ok = false;
    }
    if (ok) return output.subarray(0, size);
  }
  const out = zlib.zstdDecompressSync(input);
  if (out.length !== size) throw new RangeError(`zstd: ${out.length} bytes for ${size}`);
  return out;
}
