/**
 * Pages decompressed ahead of the reader ({@linkcode prefetchPages}): before a file's
 * columns are decoded, the zstd pages they hold are listed in the order the reader will ask
 * for them and handed to the decompression worker (`unzstd_pool.ts`); the reader's
 * `pageAt` then asks {@linkcode prefetched} for each page before decompressing it itself.
 * A page asked out of that order, or not made by the worker, is decompressed by the reader
 * as without a worker: the bytes are the same either way.
 * @module
 */
import { CODEC } from "./compression.ts";
import type { OwnParquetFile } from "./decode.ts";
import { pageHeaderAt } from "./_page_header.ts";
import { type CompressedPage, type UnzstdPool, unzstdPool } from "./unzstd_pool.ts";

/** How reads use the decompression worker ({@linkcode pagePrefetch}). */
export interface PrefetchPolicy {
  /** Whether they use it at all. */
  readonly enabled: boolean;
  /** Compressed bytes of a file's listed pages below which they do not: 4 MiB by default. */
  readonly minBytes: number;
}

let policy: PrefetchPolicy = { enabled: true, minBytes: 4 << 20 };

/**
 * How reads use the decompression worker; with `change`, changes it first (tests and
 * benchmarks). Throws `RangeError` for a negative or non-finite `minBytes`.
 */
export function pagePrefetch(change?: Partial<PrefetchPolicy>): PrefetchPolicy {
  if (
    change?.minBytes !== undefined && !(Number.isFinite(change.minBytes) && change.minBytes >= 0)
  ) {
    throw new RangeError(`pagePrefetch: minBytes must be finite and >= 0, got ${change.minBytes}`);
  }
  if (change !== undefined) policy = { ...policy, ...change };
  return policy;
}

/** The job in progress: the file, where its listed pages' headers are, the next one. */
let job: {
  readonly file: OwnParquetFile;
  readonly headers: readonly number[];
  readonly pool: UnzstdPool;
  next: number;
} | undefined;

/**
 * A column to list: its name, or two names whose pages are read in turns (a page of the
 * first, then the second's, as `readListPair` reads them).
 */
export type PrefetchColumn = string | readonly [string, string];

/**
 * Hands the zstd pages of `columns` of `file` (in that order, row group by row group) to the
 * decompression worker, when they are `minBytes` or more ({@linkcode pagePrefetch}); the answer
 * ends the job when disposed (`using`). A page this reader does not know ends the list.
 */
export function prefetchPages(
  file: OwnParquetFile,
  columns: readonly PrefetchColumn[],
): Disposable {
  endJob();
  const done = { [Symbol.dispose]: endJob };
  if (!policy.enabled) return done;
  const pages: CompressedPage[] = [];
  const headers: number[] = [];
  let bytes = 0;
  const list = (
    name: string,
    group: number,
  ): { pos: number; raw: number; body: number; size: number }[] => {
    const chunk = file.footer.rowGroups[group].columns.find((c) => c.path[0] === name);
    const out: { pos: number; raw: number; body: number; size: number }[] = [];
    if (chunk === undefined || chunk.codec !== CODEC.zstd) return out;
    let [pos, seen] = [chunk.start, 0];
    while (seen < chunk.numValues) {
      const h = pageHeaderAt(file, chunk, pos);
      if (h === undefined) break;
      out.push({ pos, raw: h.raw, body: h.body, size: h.size });
      [pos, seen] = [h.body + h.size, seen + h.values];
    }
    return out;
  };
  for (const column of columns) {
    for (let g = 0; g < file.footer.rowGroups.length; g++) {
      const [a, b] = typeof column === "string"
        ? [list(column, g), []]
        : [list(column[0], g), list(column[1], g)];
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        for (const p of [a[i], b[i]]) {
          if (p === undefined) continue;
          headers.push(p.pos);
          pages.push({ bytes: file.bytes.subarray(p.body, p.body + p.size), raw: p.raw });
          bytes += p.size;
        }
      }
    }
  }
  if (bytes < policy.minBytes) return done;
  const pool = unzstdPool();
  if (pool === undefined || !pool.begin(pages)) return done;
  job = { file, headers, pool, next: 0 };
  return done;
}

/**
 * The body of the zstd page whose header is at `pos` of `file` (`raw` bytes), made by the
 * worker, when it is the next page of the job; otherwise `undefined` (the caller
 * decompresses it). Valid until the next call.
 */
export function prefetched(file: OwnParquetFile, pos: number, raw: number): Uint8Array | undefined {
  if (job === undefined || job.file !== file || job.headers[job.next] !== pos) return undefined;
  return job.pool.take(job.next++, raw);
}

function endJob(): void {
  job?.pool.end();
  job = undefined;
}
