/**
 * Book changes read straight from the lake's Parquet files into flat typed arrays, for the
 * files the lake's own writer wrote: no Polars frame, no list flattening, every array on the
 * caller's scratch. {@linkcode readBookChangeFiles} answers `undefined` for anything it does
 * not read exactly as Polars would (another writer's file, a null time or digest, rows out of
 * order: of time within a file, of `(ts, recv_ts, digest)` across the files of a day, a bound
 * of a fraction of a microsecond): the caller then reads through Polars.
 * @module
 */
import {
  type OwnParquetFile,
  ownParquetFile,
  prefetchPages,
  readList,
  readListPair,
  readNumbers,
} from "../lake/parquet/decode.ts";
import { PHYSICAL } from "../lake/parquet/schema.ts";
import { freedMemoryKept } from "../lake/_malloc_policy.ts";
import type { RangeQuery } from "../repositories/repository.ts";
import { bookLevels, type KindColumns, type SideLevels } from "./_book_events.ts";
import type { Scratch } from "./_scratch.ts";

/** A store that can name the files holding an instrument's book changes (`LakeRepository`). */
export interface BookChangeFiles {
  /**
   * The `book_changes` files that can hold rows of `query`: partitions by day ascending,
   * each with its files (rows in each file in the table's order).
   */
  bookChangeFiles(query: RangeQuery): Promise<readonly (readonly string[])[]>;
}

/**
 * Book changes of `query` (rows with `start <= ts < end`) read from `partitions`' files, or
 * `undefined` when one of them is not read here. The columns are on `scratch` under `key`.
 * @throws {RangeError} for a row whose price and size lists differ in length (as the Polars
 * path does).
 */
export async function readBookChangeFiles(
  partitions: readonly (readonly string[])[],
  query: RangeQuery,
  o: { readonly sequence: boolean; readonly scratch: Scratch; readonly key: string },
): Promise<KindColumns | undefined> {
  if (partitions.length === 0 || partitions.some((files) => files.length === 0)) {
    return undefined;
  }
  // Polars compares with the bounds cast to whole microseconds: only whole ones here.
  const whole = (t: number | undefined) => t === undefined || Number.isSafeInteger(t);
  if (!whole(query.start) || !whole(query.end)) return undefined;
  const files = await ownFiles(partitions, o.scratch);
  if (files === undefined) return undefined;
  const { rows, capacity } = sizesOf(files);
  const { scratch, key } = o;
  const ts = scratch.array(`${key}.ts`, Float64Array, rows);
  const recvTs = scratch.array(`${key}.recvTs`, Float64Array, rows);
  const digest = scratch.array(`${key}.digest`, Int32Array, rows);
  const sequence = scratch.array(`${key}.sequence`, Float64Array, o.sequence ? rows : 0);
  const side = (name: string, cap: number) => ({
    offsets: scratch.array(`${key}.${name}Offsets`, Int32Array, rows + 1),
    sizeOffsets: scratch.array(`${key}.${name}SizeOffsets`, Int32Array, rows + 1),
    prices: scratch.array(`${key}.${name}Prices`, Float64Array, cap),
    sizes: scratch.array(`${key}.${name}Sizes`, Float64Array, cap),
  });
  const bid = side("bid", capacity.bid);
  const ask = side("ask", capacity.ask);
  let row = 0;
  const values = { bid: 0, ask: 0 };
  for (const f of files) {
    const n = f.footer.numRows;
    // The pages in the order read below, decompressed ahead on a second thread.
    using _pages = prefetchPages(f, [
      "ts",
      "recv_ts",
      "digest",
      ...(o.sequence ? ["sequence"] : []),
      ["bid_prices", "bid_sizes"],
      ["ask_prices", "ask_sizes"],
    ]);
    const numbers = [
      readNumbers(f, "ts", PHYSICAL.INT64, ts, row),
      readNumbers(f, "recv_ts", PHYSICAL.INT64, recvTs, row),
      readNumbers(f, "digest", PHYSICAL.INT32, digest, row),
      o.sequence ? readNumbers(f, "sequence", PHYSICAL.INT64, sequence, row, NaN) : n,
    ];
    if (numbers.some((m) => m !== n)) return undefined;
    for (const [name, s] of [["bid", bid], ["ask", ask]] as const) {
      const read = readSide(f, name, s, row, values[name]);
      if (read === undefined || read[0] !== n) return undefined;
      values[name] += read[1];
    }
    row += n;
  }
  // Each file's rows are in the table's order; where a day has several files (a writer's
  // batches), the rows taken file after file must be too, as the Polars path sorts them: by
  // (ts, recv_ts, digest).
  const several = partitions.some((p) => p.length > 1);
  if (!(several ? inKeyOrder(ts, recvTs, digest, rows) : inTimeOrder(ts, rows))) return undefined;
  const lo = query.start === undefined ? 0 : firstAtOrAfter(ts, rows, query.start);
  const hi = query.end === undefined ? rows : firstAtOrAfter(ts, rows, query.end);
  const [b, a] = [windowOf(bid, lo, hi), windowOf(ask, lo, hi)];
  const cut = <T extends Float64Array | Int32Array>(v: T) => v.subarray(lo, Math.max(lo, hi)) as T;
  return {
    length: Math.max(0, hi - lo),
    ts: cut(ts),
    recvTs: cut(recvTs),
    digest: cut(digest),
    sequence: o.sequence ? cut(sequence) : sequence,
    ...bookLevels(b, a),
  };
}

/** Whether `ts` is ascending over its first `n` values. */
function inTimeOrder(ts: Float64Array, n: number): boolean {
  for (let i = 1; i < n; i++) if (!(ts[i - 1] <= ts[i])) return false;
  return true;
}

/** Whether rows `0..n` are ascending by `(ts, recvTs, digest)`. */
function inKeyOrder(ts: Float64Array, recvTs: Float64Array, digest: Int32Array, n: number) {
  for (let i = 1; i < n; i++) {
    const t = ts[i - 1] - ts[i];
    const r = recvTs[i - 1] - recvTs[i];
    if (!(t < 0 || (t === 0 && (r < 0 || (r === 0 && digest[i - 1] <= digest[i]))))) {
      return false;
    }
  }
  return true;
}

/** The partitions' files, in order, or `undefined` when one is not our writer's. */
async function ownFiles(
  partitions: readonly (readonly string[])[],
  scratch: Scratch,
): Promise<OwnParquetFile[] | undefined> {
  const paths = partitions.flat();
  const files: OwnParquetFile[] = [];
  // One file is read into the scratch (kept between calls: no fresh pages) where the
  // allocator keeps freed memory. Elsewhere a fresh copy each call, on purpose: read into a
  // kept buffer, glibc's default returned the rebuild's freed columns to the system (its
  // mmap threshold rises when a buffer this large is freed, and this one no longer was) and
  // every call paid their ~95,000 page faults again (see `_malloc_policy.ts`).
  const keep = paths.length === 1 && freedMemoryKept();
  for (const path of paths) {
    const bytes = keep ? await readInto(scratch, path) : await Deno.readFile(path);
    const file = ownParquetFile(bytes);
    if (file === undefined) return undefined;
    files.push(file);
  }
  return files;
}

/** The file at `path` read into `scratch`'s buffer `"file"` (valid until its next use). */
async function readInto(scratch: Scratch, path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  const bytes = scratch.array("file", Uint8Array, size);
  let done = 0;
  while (done < size) {
    const n = await file.read(bytes.subarray(done));
    if (n === null) break; // shorter than its size said: the footer check rejects it
    done += n;
  }
  return bytes.subarray(0, done);
}

/** Rows and level values per side of `files`, from their footers. */
function sizesOf(files: readonly OwnParquetFile[]) {
  let rows = 0;
  const capacity = { bid: 0, ask: 0 };
  for (const f of files) {
    rows += f.footer.numRows;
    for (const group of f.footer.rowGroups) {
      for (const c of group.columns) {
        if (c.path[0] === "bid_prices") capacity.bid += c.numValues;
        if (c.path[0] === "ask_prices") capacity.ask += c.numValues;
      }
    }
  }
  return { rows, capacity };
}

/** Where one side's lists are read to (`sizeOffsets` for the two-pass check). */
interface SideTarget extends SideLevels {
  readonly sizeOffsets: Int32Array;
}

/**
 * Reads one side's price and size lists of `f` at `row` (values from `at`): `[rows, values]`,
 * or `undefined` when a column is not read here.
 * @throws {RangeError} for a row whose price and size lists differ in length.
 */
function readSide(
  f: OwnParquetFile,
  name: "bid" | "ask",
  s: SideTarget,
  row: number,
  at: number,
): readonly [number, number] | undefined {
  const target = { offsets: s.offsets, values: s.prices, row, value: at };
  const pair = readListPair(f, [`${name}_prices`, `${name}_sizes`], target, s.sizes);
  if (pair !== undefined) return pair;
  const prices = readList(f, `${name}_prices`, target);
  const sizes = readList(f, `${name}_sizes`, {
    offsets: s.sizeOffsets,
    values: s.sizes,
    row,
    value: at,
  });
  if (prices === undefined || sizes === undefined || prices[0] !== sizes[0]) return undefined;
  for (let i = row; i <= row + prices[0]; i++) {
    if (s.offsets[i] !== s.sizeOffsets[i]) {
      throw new RangeError("book rows whose price and size lists differ in length");
    }
  }
  return prices;
}

/** Rows `[lo, hi)` of a side, offsets rebased to 0 (in place). */
function windowOf(s: SideLevels, lo: number, hi: number): SideLevels {
  const base = s.offsets[lo];
  const offsets = s.offsets.subarray(lo, Math.max(lo, hi) + 1);
  if (base !== 0) { for (let i = 0; i < offsets.length; i++) offsets[i] -= base; }
  const end = base + offsets[offsets.length - 1];
  return { offsets, prices: s.prices.subarray(base, end), sizes: s.sizes.subarray(base, end) };
}

/** The first index below `n` whose time is at or after `t` (`n` if none; `ts` ascending). */
function firstAtOrAfter(ts: Float64Array, n: number, t: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
