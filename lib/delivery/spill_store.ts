/**
 * Spill segments: batches that could not reach their store (PostgreSQL for the buffer
 * writer), kept as files of the batch's bytes (COPY text for the buffer) in a local
 * directory until they can be replayed. A segment is written to a temporary name,
 * synced and renamed, so a visible segment is always complete.
 * @module
 */

/** A stored segment. */
export interface SpillSegment {
  /** Full path of the file. */
  readonly path: string;
  /** Sequence number (replay order). */
  readonly seq: number;
  /** Target table (lower-case letters and `_`). */
  readonly table: string;
  /** Rows in the segment. */
  readonly rows: number;
  /** Earliest and latest `ts` of the rows, microseconds. */
  readonly minTs: number;
  readonly maxTs: number;
  /** File size in bytes. */
  readonly bytes: number;
}

const NAME = /^(\d{12})-([a-z_]+)-(\d+)-(\d+)-(\d+)\.copy$/;

/** A bounded directory of spill segments. */
export class SpillStore {
  readonly dir: string;
  readonly maxBytes: number;
  #bytes = -1;
  #seq = 0;

  constructor(dir: string, maxBytes: number) {
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${maxBytes}`);
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  /** Segments on disk, oldest first (scans the directory; call rarely). */
  async list(): Promise<SpillSegment[]> {
    const out: SpillSegment[] = [];
    try {
      for await (const entry of Deno.readDir(this.dir)) {
        const m = NAME.exec(entry.name);
        if (!entry.isFile || !m) continue;
        const path = `${this.dir}/${entry.name}`;
        const { size } = await Deno.stat(path);
        out.push({
          path,
          seq: Number(m[1]),
          table: m[2],
          rows: Number(m[3]),
          minTs: Number(m[4]),
          maxTs: Number(m[5]),
          bytes: size,
        });
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    out.sort((a, b) => a.seq - b.seq);
    return out;
  }

  #ready?: Promise<void>;

  #init(): Promise<void> {
    this.#ready ??= this.list().then((segments) => {
      this.#bytes = segments.reduce((n, s) => n + s.bytes, 0);
      this.#seq = segments.length ? segments[segments.length - 1].seq + 1 : 0;
    });
    return this.#ready;
  }

  /** Bytes currently held. */
  async bytes(): Promise<number> {
    await this.#init();
    return this.#bytes;
  }

  /**
   * Durably stores a batch. Resolves to `false` (and stores nothing) when it would exceed
   * the bound.
   */
  async put(
    table: string,
    rows: number,
    minTs: number,
    maxTs: number,
    chunks: readonly Uint8Array[],
  ): Promise<boolean> {
    if (!/^[a-z_]+$/.test(table)) {
      throw new TypeError(`spill table must be lower-case letters and _, got "${table}"`);
    }
    await this.#init();
    const size = chunks.reduce((n, c) => n + c.byteLength, 0);
    if (this.#bytes + size > this.maxBytes) return false;
    this.#bytes += size;
    const seq = this.#seq++;
    await Deno.mkdir(this.dir, { recursive: true });
    const name = `${String(seq).padStart(12, "0")}-${table}-${rows}-${minTs}-${maxTs}.copy`;
    const tmp = `${this.dir}/.${name}.tmp`;
    try {
      const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
      try {
        for (const chunk of chunks) {
          let off = 0;
          while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
        }
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, `${this.dir}/${name}`);
    } catch (e) {
      this.#bytes -= size;
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    return true;
  }

  /** Reads a segment's COPY text. */
  read(segment: SpillSegment): Promise<Uint8Array> {
    return Deno.readFile(segment.path);
  }

  /** Deletes a replayed segment. */
  async remove(segment: SpillSegment): Promise<void> {
    await this.#init();
    await Deno.remove(segment.path);
    this.#bytes -= segment.bytes;
  }
}
