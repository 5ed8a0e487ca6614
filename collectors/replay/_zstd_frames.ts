/**
 * A walker over the framing of a zstd stream (RFC 8878 section 3.1): frames, their blocks
 * and checksums, skippable frames. It does not decompress; it cuts the bytes into complete
 * units a decoder can take and finds where the framing breaks (bytes that start no frame,
 * a reserved bit or block type, a frame cut short by the end of the file).
 * @module
 */
import type { StreamDamage } from "./_decompress.ts";

/** A complete unit of a zstd stream (frame header, block, or checksum) and its offset. */
export interface ZstdUnit {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

const MAGIC = 0xfd2fb528;
const MAX_BLOCK = 128 * 1024;

/** Incremental walker: {@linkcode ZstdFrames.push} the file's bytes, then `end`. */
export class ZstdFrames {
  #buffer = new Uint8Array(0);
  /** Offset in the file of `#buffer[0]`. */
  #base = 0;
  #state: "frame" | "block" | "checksum" | "skip" = "frame";
  #checksum = false;
  #skip = 0;
  #frames = 0;
  #failed = false;

  /**
   * Takes the next bytes of the file; returns the units now complete and, once, where the
   * framing breaks (no unit after it is returned).
   */
  push(chunk: Uint8Array): { blocks: ZstdUnit[]; error?: StreamDamage } {
    if (this.#failed) return { blocks: [] };
    const joined = new Uint8Array(this.#buffer.byteLength + chunk.byteLength);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.byteLength);
    this.#buffer = joined;
    const blocks: ZstdUnit[] = [];
    let at = 0;
    const take = (n: number) => {
      blocks.push({ offset: this.#base + at, bytes: joined.slice(at, at + n) });
      at += n;
    };
    let error: StreamDamage | undefined;
    const view = new DataView(joined.buffer);
    while (error === undefined) {
      const left = joined.byteLength - at;
      if (this.#state === "skip") {
        const n = Math.min(this.#skip, left);
        at += n;
        this.#skip -= n;
        if (this.#skip > 0) break;
        this.#state = "frame";
      } else if (this.#state === "frame") {
        if (left < 4) break;
        const magic = view.getUint32(at, true);
        if ((magic & 0xfffffff0) === 0x184d2a50) {
          if (left < 8) break;
          this.#skip = view.getUint32(at + 4, true);
          at += 8;
          this.#state = "skip";
          continue;
        }
        if (magic !== MAGIC) {
          error = {
            offset: this.#base + at,
            reason: this.#frames === 0
              ? "not a zstd file (no zstd frame at the start)"
              : "bytes after the last zstd frame that are not a zstd frame (garbage)",
          };
          break;
        }
        if (left < 5) break;
        const fhd = joined[at + 4];
        if (fhd & 0x08) {
          error = { offset: this.#base + at, reason: "corrupt zstd frame header" };
          break;
        }
        const single = (fhd >> 5) & 1;
        const size = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3] +
          [single, 2, 4, 8][fhd >> 6];
        if (left < size) break;
        this.#checksum = ((fhd >> 2) & 1) === 1;
        take(size);
        this.#frames++;
        this.#state = "block";
      } else if (this.#state === "block") {
        if (left < 3) break;
        const header = joined[at] | (joined[at + 1] << 8) | (joined[at + 2] << 16);
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3 || size > MAX_BLOCK) {
          error = { offset: this.#base + at, reason: "corrupt zstd block header" };
          break;
        }
        const total = 3 + (type === 1 ? 1 : size);
        if (left < total) break;
        take(total);
        if (header & 1) this.#state = this.#checksum ? "checksum" : "frame";
      } else {
        if (left < 4) break;
        take(4);
        this.#state = "frame";
      }
    }
    this.#buffer = joined.slice(at);
    this.#base += at;
    if (error) this.#failed = true;
    return { blocks, error };
  }

  /** The end of the file: where the framing is cut short, if it is. */
  end(): StreamDamage | undefined {
    if (this.#failed) return undefined;
    if (this.#state === "frame" && this.#buffer.byteLength === 0) {
      return this.#frames === 0 && this.#base === 0
        ? { offset: 0, reason: "empty file: no zstd frame" }
        : undefined;
    }
    return {
      offset: this.#base,
      reason: this.#state === "skip"
        ? "truncated: the file ends inside a skippable frame"
        : "truncated: the file ends inside a zstd frame",
    };
  }
}
