/**
 * Book snapshots or book changes held as columns for the lake: typed arrays for the times,
 * digests, optional integers and the four level lists (offsets + values), so buffered book
 * events cost about the bytes of their numbers, not a JS object per event and per level,
 * and the Parquet file's list columns are made from these arrays without copying each
 * level. {@linkcode BookColumns.appendChecked} checks an event by the schema's rules while
 * it copies its levels (one pass; the same reason as `eventRejection`), and
 * {@linkcode BookColumns.append} takes an event already checked; both keep what the lake
 * stores (a snapshot's sides sorted best first and cut to `depth` levels, a change's levels
 * as received) and compute the same digest as {@linkcode eventRow}.
 *
 * @example
 * ```ts
 * import { BookColumns } from "./book_columns.ts";
 * import assert from "node:assert/strict";
 * const columns = new BookColumns("book_snapshots", 1);
 * columns.append({
 *   kind: "book_snapshot", exchange: "kraken", symbol: "BTC-USD", ts: 1, recvTs: 2,
 *   bids: [[99, 1], [100, 2]], asks: [[102, 1], [101, 3]],
 * });
 * assert.deepEqual([columns.length, columns.bidPrices.values[0], columns.askPrices.values[0]], [
 *   1,
 *   100,
 *   101,
 * ]);
 * ```
 * @module
 */
import { bookDigestIn } from "../market/event_digest.ts";
import type { BookChange, BookSnapshot, PriceLevel } from "../market/types.ts";
import { type BookChangeRow, type BookSnapshotRow, eventRowRejection } from "./event_rows.ts";
import {
  headerRejection,
  levelPairRejection,
  levelPairsRejection,
  type Rejection,
  sequenceRejection,
} from "../schema/rules.ts";

/** A stored book row's fields besides its levels (see {@linkcode BookColumns.endStoredRow}). */
export interface StoredBookFields {
  readonly exchange: string;
  readonly symbol: string;
  readonly ts: number;
  readonly recvTs: number;
  readonly digest: number;
  /** Book changes only (null for snapshots). */
  readonly firstSequence: number | null;
  readonly sequence: number | null;
  readonly checksum: number | null;
}

/** The lake's book tables. */
export type BookKind = "book_snapshots" | "book_changes";

/** A growable typed array: `values[0..length)` hold the data. */
export class Growable<T extends Float64Array | Int32Array> {
  values: T;
  length = 0;
  readonly #make: (size: number) => T;

  constructor(make: (size: number) => T, capacity = 256) {
    this.#make = make;
    this.values = make(capacity);
  }

  /** Appends one value. */
  push(value: number): void {
    if (this.length === this.values.length) this.#grow(this.length + 1);
    this.values[this.length++] = value;
  }

  /** Makes room for `more` values beyond `length`. */
  reserve(more: number): void {
    if (this.length + more > this.values.length) this.#grow(this.length + more);
  }

  /** The data, a view (no copy). */
  view(): T {
    return this.values.subarray(0, this.length) as T;
  }

  #grow(needed: number): void {
    const next = this.#make(Math.max(needed, this.values.length * 2));
    next.set(this.values.subarray(0, this.length));
    this.values = next;
  }
}

const doubles = (capacity?: number) =>
  new Growable((n) => new Float64Array(n) as Float64Array, capacity);
const int32s = (capacity?: number) =>
  new Growable((n) => new Int32Array(n) as Int32Array, capacity);

/**
 * Level arrays of released columns, kept for the next columns of the process (see
 * {@linkcode BookColumns.release}): on this machine writing into new memory costs more
 * than the copy itself (page faults; 160 MB of levels for 100,000 50-level snapshots).
 * At most {@linkcode SPARE_BYTES} are kept; only arrays of at least a megabyte.
 */
const spare: Float64Array[] = [];
const SPARE_BYTES = 256 * 1024 * 1024;
const SPARE_MIN = 128 * 1024;

/** A level array of at least `n` values: the smallest spare one that fits, or a new one. */
function levelArray(n: number): Float64Array {
  if (n >= SPARE_MIN) {
    let best = -1;
    for (let i = 0; i < spare.length; i++) {
      if (spare[i].length >= n && (best < 0 || spare[i].length < spare[best].length)) best = i;
    }
    if (best >= 0) return spare.splice(best, 1)[0];
    // Shared, so that a second thread can read the levels (`digest_pool.ts`).
    return new Float64Array(new SharedArrayBuffer(8 * n));
  }
  return new Float64Array(n);
}

const levelDoubles = () => new Growable(levelArray, 1024);

/** Book events of one table as columns (see the module documentation). */
export class BookColumns {
  /** The table. */
  readonly kind: BookKind;
  /** Levels per side kept of a snapshot. */
  readonly depth: number;
  /** Rows held. */
  length = 0;
  readonly exchange: string[] = [];
  readonly symbol: string[] = [];
  readonly ts: Growable<Float64Array> = doubles();
  readonly recvTs: Growable<Float64Array> = doubles();
  readonly digest: Growable<Int32Array> = int32s();
  /** Optional integers, NaN when missing (book changes only for `firstSequence`). */
  readonly firstSequence: Growable<Float64Array> = doubles();
  readonly sequence: Growable<Float64Array> = doubles();
  readonly checksum: Growable<Float64Array> = doubles();
  /** Row i's bids are `bidPrices[bidOffsets[i]..bidOffsets[i+1])` (sizes alike). */
  readonly bidOffsets: Growable<Int32Array> = int32s();
  readonly askOffsets: Growable<Int32Array> = int32s();
  readonly bidPrices: Growable<Float64Array> = levelDoubles();
  readonly bidSizes: Growable<Float64Array> = levelDoubles();
  readonly askPrices: Growable<Float64Array> = levelDoubles();
  readonly askSizes: Growable<Float64Array> = levelDoubles();

  constructor(kind: BookKind, depth: number) {
    if (kind !== "book_snapshots" && kind !== "book_changes") {
      throw new TypeError(`BookColumns: not a book table: ${kind}`);
    }
    if (!(Number.isInteger(depth) && depth >= 1)) {
      throw new RangeError(`BookColumns: depth must be an integer >= 1, got ${depth}`);
    }
    this.kind = kind;
    this.depth = depth;
    this.bidOffsets.push(0);
    this.askOffsets.push(0);
  }

  /**
   * Appends a book event of this table, already checked by the schema's rules. Throws
   * (leaving the columns unchanged) when its levels cannot be sorted.
   */
  append(event: BookSnapshot | BookChange): void {
    this.#append(event, false);
  }

  /**
   * Appends a book event of this table when the schema's rules accept it, checking it while
   * it is copied (one pass over its levels): the header, each side's levels, then the
   * optional integers, the order of `eventRejection`, so a refused event gets the same
   * reason. Returns that reason (leaving the columns unchanged), or `undefined` when the
   * event was appended.
   */
  appendChecked(
    event: BookSnapshot | BookChange,
    latest: number,
    deferDigest = false,
  ): Rejection | undefined {
    return headerRejection(event.exchange, event.symbol, event.ts, event.recvTs, latest) ??
      this.#append(event, true, deferDigest);
  }

  /**
   * {@linkcode BookColumns.append}, checking the levels and optionals when `check`; the
   * digest left 0 when `deferDigest` (the caller computes it later: `digest_pool.ts`).
   */
  #append(
    event: BookSnapshot | BookChange,
    check: boolean,
    deferDigest = false,
  ): Rejection | undefined {
    const snapshot = this.kind === "book_snapshots";
    if ((event.kind === "book_snapshot") !== snapshot) {
      throw new TypeError(`BookColumns(${this.kind}): got a ${event.kind} event`);
    }
    const b0 = this.bidPrices.length;
    const a0 = this.askPrices.length;
    const depth = snapshot ? this.depth : Infinity;
    const sequence = event.sequence ?? null;
    const checksum = event.checksum ?? null;
    const first = snapshot ? null : (event as BookChange).firstSequence ?? null;
    let reason: Rejection | undefined;
    try {
      reason = pushSide(
        event.bids,
        snapshot ? DESCENDING : AS_RECEIVED,
        depth,
        this.bidPrices,
        this.bidSizes,
        check,
      ) ?? pushSide(
        event.asks,
        snapshot ? ASCENDING : AS_RECEIVED,
        depth,
        this.askPrices,
        this.askSizes,
        check,
      );
      if (check && reason === undefined) {
        reason = snapshot
          ? sequenceRejection(sequence, checksum)
          : sequenceRejection(first, sequence, checksum);
      }
    } catch (err) {
      this.bidPrices.length = this.bidSizes.length = b0;
      this.askPrices.length = this.askSizes.length = a0;
      throw err;
    }
    if (reason !== undefined) {
      this.bidPrices.length = this.bidSizes.length = b0;
      this.askPrices.length = this.askSizes.length = a0;
      return reason;
    }
    this.digest.push(
      deferDigest
        ? 0
        : this.#digestOf(b0, a0, snapshot ? [sequence, checksum] : [first, sequence, checksum]),
    );
    this.bidOffsets.push(this.bidPrices.length);
    this.askOffsets.push(this.askPrices.length);
    this.exchange.push(event.exchange);
    this.symbol.push(event.symbol);
    this.ts.push(event.ts);
    this.recvTs.push(event.recvTs);
    this.firstSequence.push(first ?? NaN);
    this.sequence.push(sequence ?? NaN);
    this.checksum.push(checksum ?? NaN);
    this.length++;
    return undefined;
  }

  /** The digest of the levels pushed from `b0` / `a0` and the optionals. */
  #digestOf(b0: number, a0: number, optionals: readonly (number | null)[]): number {
    const levels = {
      bidPrices: this.bidPrices.values,
      bidSizes: this.bidSizes.values,
      askPrices: this.askPrices.values,
      askSizes: this.askSizes.values,
    };
    const ranges = {
      bidStart: b0,
      bidEnd: this.bidPrices.length,
      askStart: a0,
      askEnd: this.askPrices.length,
    };
    return bookDigestIn(levels, ranges, optionals);
  }

  /**
   * Ends a row read back from a store (the buffer's export) whose levels the reader pushed
   * onto the level arrays since the previous row: levels and digest as stored, nothing
   * sorted, cut or hashed. The row is checked by the lake's rules for stored rows
   * ({@linkcode eventRowRejection}); a row that breaks one is handed to `rejected` as a
   * plain row (for the lake to count and log) and its levels are dropped. Returns whether
   * the row was kept.
   */
  endStoredRow(
    fields: StoredBookFields,
    latest: number,
    rejected: (row: BookSnapshotRow | BookChangeRow) => void,
  ): boolean {
    const b0 = this.bidOffsets.values[this.length];
    const a0 = this.askOffsets.values[this.length];
    const stored: BookSnapshotRow = {
      exchange: fields.exchange,
      symbol: fields.symbol,
      ts: fields.ts,
      recvTs: fields.recvTs,
      digest: fields.digest,
      // Views of the pushed levels, checked as lists (the rules take typed arrays).
      bidPrices: this.bidPrices.values.subarray(b0, this.bidPrices.length) as unknown as number[],
      bidSizes: this.bidSizes.values.subarray(b0, this.bidSizes.length) as unknown as number[],
      askPrices: this.askPrices.values.subarray(a0, this.askPrices.length) as unknown as number[],
      askSizes: this.askSizes.values.subarray(a0, this.askSizes.length) as unknown as number[],
      sequence: fields.sequence,
      checksum: fields.checksum,
    };
    const row: BookSnapshotRow | BookChangeRow = this.kind === "book_changes"
      ? { ...stored, firstSequence: fields.firstSequence }
      : stored;
    if (eventRowRejection(this.kind, row, latest) !== undefined) {
      rejected({
        ...row,
        bidPrices: Array.from(row.bidPrices),
        bidSizes: Array.from(row.bidSizes),
        askPrices: Array.from(row.askPrices),
        askSizes: Array.from(row.askSizes),
      });
      this.bidPrices.length = this.bidSizes.length = b0;
      this.askPrices.length = this.askSizes.length = a0;
      return false;
    }
    this.digest.push(fields.digest);
    this.bidOffsets.push(this.bidPrices.length);
    this.askOffsets.push(this.askPrices.length);
    this.exchange.push(fields.exchange);
    this.symbol.push(fields.symbol);
    this.ts.push(fields.ts);
    this.recvTs.push(fields.recvTs);
    this.firstSequence.push(fields.firstSequence ?? NaN);
    this.sequence.push(fields.sequence ?? NaN);
    this.checksum.push(fields.checksum ?? NaN);
    this.length++;
    return true;
  }

  /**
   * Makes room for `rows` more rows holding `bidLevels` and `askLevels` more levels (per
   * side, as stored), so that appending them allocates and copies no array: a batch whose
   * size is known is stored in arrays of its size.
   */
  reserve(rows: number, bidLevels: number, askLevels: number): void {
    for (const name of ROW_ARRAYS) this[name].reserve(rows);
    this.bidOffsets.reserve(rows);
    this.askOffsets.reserve(rows);
    this.bidPrices.reserve(bidLevels);
    this.bidSizes.reserve(bidLevels);
    this.askPrices.reserve(askLevels);
    this.askSizes.reserve(askLevels);
  }

  /**
   * Gives the level arrays back for the next columns of the process (they are kept, up to
   * 256 MB) and leaves these columns empty. Call it only when nothing reads them any more
   * (the lake copies them into Polars; a finished write is done with them).
   */
  release(): void {
    for (const name of LEVEL_ARRAYS) {
      const growable = this[name];
      const values = growable.values;
      growable.values = new Float64Array(1024);
      growable.length = 0;
      if (values.length < SPARE_MIN) continue;
      let kept = values.byteLength;
      for (const a of spare) kept += a.byteLength;
      if (kept <= SPARE_BYTES) spare.push(values);
    }
    this.bidOffsets.length = this.askOffsets.length = 1;
    for (const name of ROW_ARRAYS) this[name].length = 0;
    this.exchange.length = this.symbol.length = 0;
    this.length = 0;
  }

  /** Appends every row of `other` (same table and depth) after these rows. */
  absorb(other: BookColumns): void {
    if (other.kind !== this.kind) throw new TypeError("BookColumns.absorb: another table");
    const bidBase = this.bidPrices.length;
    const askBase = this.askPrices.length;
    for (const name of COPIED) {
      const to = this[name] as Growable<Float64Array | Int32Array>;
      const from = other[name] as Growable<Float64Array | Int32Array>;
      to.reserve(from.length);
      to.values.set(from.view(), to.length);
      to.length += from.length;
    }
    for (let i = 1; i <= other.length; i++) {
      this.bidOffsets.push(bidBase + other.bidOffsets.values[i]);
      this.askOffsets.push(askBase + other.askOffsets.values[i]);
    }
    this.exchange.push(...other.exchange);
    this.symbol.push(...other.symbol);
    this.length += other.length;
  }
}

const ROW_ARRAYS = ["ts", "recvTs", "digest", "firstSequence", "sequence", "checksum"] as const;

const LEVEL_ARRAYS = ["bidPrices", "bidSizes", "askPrices", "askSizes"] as const;

const COPIED = [
  "ts",
  "recvTs",
  "digest",
  "firstSequence",
  "sequence",
  "checksum",
  "bidPrices",
  "bidSizes",
  "askPrices",
  "askSizes",
] as const;

const DESCENDING = 1;
const ASCENDING = -1;
const AS_RECEIVED = 0;

/**
 * Pushes a side's levels: a snapshot's best first (bids by price descending, asks
 * ascending; a stable sort, as `storedBookLevels` sorts) and cut to `depth`, a change's as
 * received (`AS_RECEIVED`). One pass over levels that arrive sorted, as venues send them:
 * a straight copy while each price is in order, the sort only when one is not. With
 * `check`, each level is checked by the schema's rule as it is copied (all of them, also
 * those past `depth`), and the first rejection is returned (the caller drops what was
 * pushed).
 */
function pushSide(
  levels: readonly PriceLevel[],
  order: number,
  depth: number,
  prices: Growable<Float64Array>,
  sizes: Growable<Float64Array>,
  check: boolean,
): Rejection | undefined {
  if (check && !Array.isArray(levels)) return "levels";
  const n = levels.length;
  const keep = n > depth ? depth : n;
  prices.reserve(keep);
  sizes.reserve(keep);
  const pv = prices.values;
  const sv = sizes.values;
  let at = prices.length;
  let previous = NaN;
  for (let i = 0; i < n; i++) {
    const level = levels[i];
    if (check) {
      const reason = levelPairRejection(level);
      if (reason !== undefined) return reason;
    }
    const price = level[0];
    if (order > 0 ? previous < price : order < 0 && previous > price) {
      // Out of order: check the rest first (a refused side is not sorted), then sort.
      const reason = check ? levelPairsRejection(levels) : undefined;
      if (reason !== undefined) return reason;
      const sorted = [...levels].sort((a, b) => order > 0 ? b[0] - a[0] : a[0] - b[0]);
      return pushSide(sorted, AS_RECEIVED, depth, prices, sizes, false);
    }
    previous = price;
    if (i < keep) {
      pv[at] = price;
      sv[at] = level[1];
      at++;
    }
  }
  prices.length = sizes.length = at;
  return undefined;
}
