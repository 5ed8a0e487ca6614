/**
 * Cuts buffered {@linkcode BookColumns} into the pieces a {@linkcode LakeSink} writes one
 * at a time: each piece holds the rows of one instrument (in arrival order) and at most
 * {@linkcode BookPieceLimits.rows} rows and about {@linkcode BookPieceLimits.levels} levels.
 * A write's native memory (the Polars frame, its copies while the partition's new rows are
 * found and sorted, the file's encoding buffers) grows with the rows written at once, and
 * rows of interleaved instruments are copied once more per partition (a filter of the
 * frame): pieces keep that peak small and independent of how much a flood buffered.
 * @module
 */
import { BookColumns } from "./book_columns.ts";

/** The size of a piece (a single row larger than `levels` is a piece of its own). */
export interface BookPieceLimits {
  /** Rows per piece. */
  readonly rows: number;
  /** Level values (bids and asks together) per piece. */
  readonly levels: number;
}

/**
 * The pieces of `columns`, one at a time: `columns` itself when it holds one instrument
 * within the limits, else new columns (each dropped or released by the caller once
 * written). Every row of `columns` is in exactly one piece.
 */
export function* bookPieces(
  columns: BookColumns,
  limits: BookPieceLimits,
): Generator<BookColumns> {
  if (!(limits.rows >= 1 && limits.levels >= 1)) {
    throw new RangeError("bookPieces: limits must be >= 1");
  }
  const n = columns.length;
  if (n === 0) return;
  // Instrument of each row, then the rows ordered by instrument (a counting sort, stable).
  const ids = new Map<string, number>();
  const id = new Int32Array(n);
  const counts: number[] = [];
  let last = "";
  let lastId = -1;
  for (let i = 0; i < n; i++) {
    const key = columns.exchange[i] + "\u0000" + columns.symbol[i];
    if (key !== last) {
      last = key;
      lastId = ids.get(key) ?? -1;
      if (lastId < 0) {
        lastId = counts.length;
        ids.set(key, lastId);
        counts.push(0);
      }
    }
    id[i] = lastId;
    counts[lastId]++;
  }
  const levels = columns.bidPrices.length + columns.askPrices.length;
  if (counts.length === 1 && n <= limits.rows && levels <= limits.levels) {
    yield columns;
    return;
  }
  const start = new Int32Array(counts.length + 1);
  for (let k = 0; k < counts.length; k++) start[k + 1] = start[k] + counts[k];
  const order = new Uint32Array(n);
  const next = start.slice(0, counts.length);
  for (let i = 0; i < n; i++) order[next[id[i]]++] = i;
  const bidOffsets = columns.bidOffsets.values;
  const askOffsets = columns.askOffsets.values;
  const rowLevels = (i: number) =>
    bidOffsets[i + 1] - bidOffsets[i] + askOffsets[i + 1] - askOffsets[i];
  for (let k = 0; k < counts.length; k++) {
    let from = start[k];
    while (from < start[k + 1]) {
      // The piece: rows order[from..to), within both limits (at least one row).
      let to = from;
      let bids = 0;
      let asks = 0;
      while (to < start[k + 1] && to - from < limits.rows) {
        const i = order[to];
        const more = rowLevels(i);
        if (to > from && bids + asks + more > limits.levels) break;
        bids += bidOffsets[i + 1] - bidOffsets[i];
        asks += askOffsets[i + 1] - askOffsets[i];
        to++;
      }
      yield gather(columns, order, from, to, bids, asks);
      from = to;
    }
  }
}

const ROW_ARRAYS = ["ts", "recvTs", "digest", "firstSequence", "sequence", "checksum"] as const;

/** New columns holding rows `order[from..to)` of `columns`, in that order. */
function gather(
  columns: BookColumns,
  order: Uint32Array,
  from: number,
  to: number,
  bids: number,
  asks: number,
): BookColumns {
  const piece = new BookColumns(columns.kind, columns.depth);
  const rows = to - from;
  piece.reserve(rows, bids, asks);
  for (const name of ROW_ARRAYS) {
    const source = columns[name].values;
    const target = piece[name];
    const values = target.values;
    for (let j = 0; j < rows; j++) values[j] = source[order[from + j]];
    target.length = rows;
  }
  copyLevels(columns, piece, "bid", order, from, to);
  copyLevels(columns, piece, "ask", order, from, to);
  for (let j = from; j < to; j++) {
    piece.exchange.push(columns.exchange[order[j]]);
    piece.symbol.push(columns.symbol[order[j]]);
  }
  piece.length = rows;
  return piece;
}

/** Copies one side's levels and offsets of the rows `order[from..to)`. */
function copyLevels(
  columns: BookColumns,
  piece: BookColumns,
  side: "bid" | "ask",
  order: Uint32Array,
  from: number,
  to: number,
): void {
  const offsets = columns[`${side}Offsets`].values;
  const prices = columns[`${side}Prices`].values;
  const sizes = columns[`${side}Sizes`].values;
  const outOffsets = piece[`${side}Offsets`];
  const outPrices = piece[`${side}Prices`];
  const outSizes = piece[`${side}Sizes`];
  let at = outPrices.length;
  for (let j = from; j < to; j++) {
    const i = order[j];
    const a = offsets[i];
    const b = offsets[i + 1];
    if (b > a) {
      outPrices.values.set(prices.subarray(a, b), at);
      outSizes.values.set(sizes.subarray(a, b), at);
      at += b - a;
    }
    outOffsets.values[outOffsets.length++] = at;
  }
  outPrices.length = outSizes.length = at;
}
