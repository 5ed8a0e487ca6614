/**
 * One side of a book rebuild: applies the side's levels of every snapshot and change to a
 * {@linkcode BookSideLevels}, and writes the side's sampled columns (top levels, their sizes
 * summed to the imbalance depths) and, per event, the side's part of the order-flow
 * imbalance. The two sides of a book never read each other, so a rebuild runs them apart
 * (the ask side on a worker: `_side_replay_pool.ts`) and joins them row by row afterwards
 * (`_book_replay.ts`). Loaded by that worker: nothing here imports Polars.
 * @module
 */
import { BookSideLevels } from "../book/_book_side.ts";
import { CHANGE, RESET, SNAPSHOT } from "./_book_kinds.ts";
import { BLOCK, SideRows } from "./_book_rows.ts";

/** One side's level lists: row `r`'s levels at `offsets[r]..offsets[r + 1]`. */
export interface SideLists {
  readonly offsets: Int32Array;
  readonly prices: Float64Array;
  readonly sizes: Float64Array;
}

/** What one side's replay reads. */
export interface SideInput {
  /** `1` for the bid side, `-1` for the ask side. */
  readonly sign: 1 | -1;
  /** Event kinds ({@linkcode SNAPSHOT}, {@linkcode CHANGE}, {@linkcode RESET}), applied order. */
  readonly kind: Uint8Array;
  /** Row `r` shows the book after the first `rowEnds[r]` events (nondecreasing). */
  readonly rowEnds: Int32Array;
  readonly rows: number;
  /** This side's levels of the `k`-th snapshot at row `k`. */
  readonly snapshots: SideLists;
  /** Levels the venue keeps after the `k`-th snapshot (`Infinity`: no truncation). */
  readonly snapshotDepths: Float64Array;
  /** This side's levels of the `k`-th change at row `k`. */
  readonly changes: SideLists;
  /** Levels sampled (>= 1). */
  readonly levels: number;
  /** Levels per side the stores keep of a snapshot (see `ReplayOptions.storedDepth`). */
  readonly storedDepth: number;
  /** Level indexes (`k - 1`) whose summed sizes {@linkcode SideOutput.cum} holds. */
  readonly cumDepths: readonly number[];
}

/** What one side's replay writes. */
export interface SideOutput {
  /** Level `k + 1`'s price at each row (`rows` long at least). */
  readonly prices: readonly Float64Array[];
  /** Level `k + 1`'s size at each row. */
  readonly sizes: readonly Float64Array[];
  /** Per `cumDepths` entry: sizes of the best levels up to it, summed best first, per row. */
  readonly cum: readonly Float64Array[];
  /**
   * Per event up to the last row's: this side's part of the order-flow step (see
   * {@linkcode ofiPart}); NaN where this side's best before or after the event is missing.
   */
  readonly flow: Float64Array;
}

/**
 * A side's part of the order-flow step of Cont, Kukanov and Stoikov (2014, eq. 2), from its
 * previous best price and size and its current ones: the bid side's is
 * `[b >= pb] bs - [b <= pb] pbs`, the ask side's `[a >= pa] pas - [a <= pa] as`. The step is
 * the bid part plus the ask part.
 */
export function ofiPart(
  sign: 1 | -1,
  previous: number,
  previousSize: number,
  price: number,
  size: number,
): number {
  return sign === 1
    ? (price >= previous ? size : 0) - (price <= previous ? previousSize : 0)
    : (price >= previous ? previousSize : 0) - (price <= previous ? size : 0);
}

/** Replays one side over every row of `input` into `out`. */
export function replaySide(input: SideInput, out: SideOutput): void {
  SHAPES ??= shapeKeeper();
  const r = new SideReplay(input, out);
  r.run();
  r.finish();
}

/**
 * A small side replay of each side kept for the life of the process (of the thread), made
 * before the first real one: V8 keeps the hidden classes of `SideReplay`, `SideRows` and
 * `BookSideLevels` only while an object of them lives, and a replay whose classes were made
 * anew each call ran its optimized code thrown away and, after a few calls, with its fields'
 * types generalized: about 1.7x slower (`deno task bench books`,
 * `research_book_rebuild_repeat`).
 */
let SHAPES: SideReplay[] | undefined;

function shapeKeeper(): SideReplay[] {
  const lists = (prices: number[], sizes: number[], offsets: number[]): SideLists => ({
    offsets: Int32Array.from(offsets),
    prices: Float64Array.from(prices),
    sizes: Float64Array.from(sizes),
  });
  return ([1, -1] as const).map((sign) => {
    const input: SideInput = {
      sign,
      kind: Uint8Array.from([SNAPSHOT, CHANGE, CHANGE, RESET]),
      rowEnds: Int32Array.from([1, 2, 3]),
      rows: 3,
      snapshots: lists([2, 1], [1, 1], [0, 2]),
      snapshotDepths: Float64Array.from([Infinity]),
      changes: lists([2, 3], [0.5, 0], [0, 1, 2]),
      levels: 2,
      storedDepth: 50,
      cumDepths: [0, 1],
    };
    const column = () => new Float64Array(3);
    const out: SideOutput = {
      prices: [column(), column()],
      sizes: [column(), column()],
      cum: [column(), column()],
      flow: new Float64Array(4),
    };
    const r = new SideReplay(input, out);
    r.run();
    r.finish();
    return r;
  });
}

/** One side being rebuilt and sampled. */
class SideReplay {
  readonly #in: SideInput;
  readonly #out: SideOutput;
  readonly #sign: 1 | -1;
  // Keys are `sign * price`: both sides sort ascending with the best level last.
  readonly #side = new BookSideLevels();
  readonly #rows: SideRows;
  // The side's top levels as last read from the book: a row copies them from here, and the
  // book is read again only after a change touched the side.
  readonly #prices: Float64Array;
  readonly #sizes: Float64Array;
  #known = 0;
  #beyond = NaN;
  #stale = true;
  // Whether the book was valid at the last row: 1 or 0 (-1 before the first; a number
  // throughout, so the field's type never changes under optimized code).
  #shown = -1;
  #valid = false;
  // Keys below the horizon are past a cut snapshot's worst level: unknown (-Infinity: none).
  #horizon = -Infinity;
  #depth = Infinity;
  // Best price and size after the previous event, for the order-flow part.
  #previous = NaN;
  #previousSize = NaN;
  #snapshotRow = 0;
  #changeRow = 0;

  constructor(input: SideInput, out: SideOutput) {
    this.#in = input;
    this.#out = out;
    this.#sign = input.sign;
    this.#rows = new SideRows(input.levels);
    this.#prices = new Float64Array(input.levels);
    this.#sizes = new Float64Array(input.levels);
  }

  /**
   * Applies the events and writes the rows. Nothing follows the loop here: code after a loop
   * that the optimizing compiler entered mid-way (on-stack replacement) had no type feedback
   * yet and threw the optimized code away at the end of every call.
   */
  run(): void {
    const rowEnds = this.#in.rowEnds;
    const rows = this.#in.rows;
    let i = 0;
    for (let row = 0; row < rows; row++) {
      const end = rowEnds[row];
      for (; i < end; i++) this.#apply(i);
      this.#sample(row);
    }
  }

  /** Writes the rows of the last, partial block into the level columns. */
  finish(): void {
    const rows = this.#in.rows;
    const partial = rows & (BLOCK - 1);
    if (partial > 0) this.#rows.flush(this.#out.prices, this.#out.sizes, rows - partial, partial);
  }

  /** Writes row `row` of the side's columns. */
  #sample(row: number): void {
    const valid = this.#valid;
    const rows = this.#rows;
    // A new version of the side when the book's validity changed or the side was read.
    let fresh = (valid ? 1 : 0) !== this.#shown;
    this.#shown = valid ? 1 : 0;
    if (valid && this.#stale) {
      this.#read();
      fresh = true;
    }
    if (fresh) rows.push(valid, this.#prices, this.#sizes, this.#known, this.#beyond);
    const r = row & (BLOCK - 1);
    rows.mark(r);
    const depths = this.#in.cumDepths;
    const cum = this.#out.cum;
    for (let j = 0; j < depths.length; j++) cum[j][row] = rows.cum(depths[j]);
    if (r === BLOCK - 1) rows.flush(this.#out.prices, this.#out.sizes, row - r, BLOCK);
  }

  /** Applies event `i` to the side. */
  #apply(i: number): void {
    const kind = this.#in.kind[i];
    if (kind === RESET) {
      this.#side.clear();
      this.#valid = false;
      this.#stale = true;
      this.#previous = this.#previousSize = NaN;
      this.#out.flow[i] = NaN;
      return;
    }
    if (kind === SNAPSHOT) this.#snapshot(this.#snapshotRow++);
    else if (kind === CHANGE) {
      const row = this.#changeRow++;
      if (this.#valid) {
        const c = this.#in.changes;
        if (c.offsets[row + 1] > c.offsets[row]) {
          this.#stale = true;
          this.#setLevels(c, row);
          // Truncation to the venue's depth only cuts a side that grew: a touched side.
          if (this.#depth !== Infinity) this.#side.truncate(this.#depth);
        }
      }
    }
    this.#flow(i);
  }

  /** Applies snapshot `k`'s levels of this side (the book is replaced). */
  #snapshot(k: number): void {
    const s = this.#in.snapshots;
    const side = this.#side;
    side.clear();
    this.#setLevels(s, k);
    const count = s.offsets[k + 1] - s.offsets[k];
    this.#horizon = count >= this.#in.storedDepth ? worstKey(s, k, this.#sign) : -Infinity;
    this.#depth = this.#in.snapshotDepths[k];
    if (this.#depth !== Infinity) side.truncate(this.#depth);
    this.#valid = true;
    this.#stale = true;
  }

  #setLevels(lists: SideLists, row: number): void {
    const side = this.#side;
    const sign = this.#sign;
    const { prices, sizes } = lists;
    for (let j = lists.offsets[row], end = lists.offsets[row + 1]; j < end; j++) {
      side.set(sign * prices[j], sizes[j]);
    }
  }

  /** This side's order-flow part of event `i` (see {@linkcode ofiPart}). */
  #flow(i: number): void {
    const side = this.#side;
    const key = side.end > side.start ? side.keys[side.end - 1] : NaN;
    const price = this.#valid && key >= this.#horizon ? this.#sign * key : NaN;
    const size = price === price ? side.sizes[side.end - 1] : NaN;
    const previous = this.#previous;
    this.#out.flow[i] = previous === previous && price === price
      ? ofiPart(this.#sign, previous, this.#previousSize, price, size)
      : NaN;
    this.#previous = price;
    this.#previousSize = size;
  }

  /**
   * Reads the side's top levels: price and size of each known level; an absent level (a thin
   * book) is NaN price and size 0, an unknown one (past a cut snapshot's worst level) NaN
   * price and NaN size.
   */
  #read(): void {
    const side = this.#side;
    const keys = side.keys;
    const sizes = side.sizes;
    const sign = this.#sign;
    const horizon = this.#horizon;
    const count = Math.min(side.end - side.start, this.#prices.length);
    let known = 0;
    for (let k = 0, j = side.end - 1; k < count; k++, j--) {
      this.#prices[k] = sign * keys[j];
      this.#sizes[k] = sizes[j];
      if (known === k && keys[j] >= horizon) known++;
    }
    this.#known = known;
    this.#beyond = horizon !== -Infinity ? NaN : 0;
    this.#stale = false;
  }
}

/** The key of the worst level of snapshot `k`'s side (the lowest bid, the highest ask). */
function worstKey(s: SideLists, k: number, sign: 1 | -1): number {
  let worst = Infinity;
  for (let j = s.offsets[k]; j < s.offsets[k + 1]; j++) {
    const key = sign * s.prices[j];
    if (key < worst) worst = key;
  }
  return worst;
}
