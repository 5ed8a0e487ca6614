/**
 * The last pass of a book rebuild (`_book_replay.ts`): once each side has written its
 * columns, walks the events row by row for what needs both sides (the order-flow imbalance,
 * mid, spread, microprice, depth imbalance) and for the event columns.
 * @module
 */
import type { BookEvents } from "./_book_events.ts";
import { CHANGE, RESET, SNAPSHOT } from "./_book_kinds.ts";
import type { SideOutput } from "./_book_side_replay.ts";
import type { ColumnArrays } from "./_replay_columns.ts";

/** What the join reads and writes. */
export interface JoinInput {
  readonly ev: BookEvents;
  readonly rows: number;
  /** Row `r` shows the book after the first `rowEnds[r]` events. */
  readonly rowEnds: Int32Array;
  readonly clocked: boolean;
  /** The bid side's part of each event's order-flow step. */
  readonly bidFlow: Float64Array;
  /** The columns: the bid side's written, its summed sizes in `imbalance`. */
  readonly out: ColumnArrays;
  /** The ask side's columns, summed sizes and flow. */
  readonly ask: SideOutput;
}

/** The counts of a join. */
export interface JoinCounts {
  /** Changes applied to a valid book. */
  readonly applied: number;
  /** Changes that found no valid book. */
  readonly ignored: number;
  /** Event mode: `[row, events, ...]` of the rows whose event count is not 1. */
  readonly eventExceptions: number[];
}

/**
 * Writes each row's `recvTs`, `events` (clock mode) or `digest` (event mode), `ofi`, `mid`,
 * `spread`, `microprice` and `imbalance` (over the bid side's summed sizes there).
 */
export function joinRows(input: JoinInput): JoinCounts {
  SHAPE ??= shapeKeeper();
  return new RowJoin(input).run();
}

/**
 * A small join kept for the life of the process: the hidden class of {@linkcode RowJoin}
 * lives only while an object of it does, and optimized code naming a dead one is thrown
 * away (`_book_side_replay.ts` keeps its replays for the same reason). Without it every
 * other 1M-row join ran unoptimized: about 550 ms against 35 ms.
 */
let SHAPE: RowJoin | undefined;

function shapeKeeper(): RowJoin {
  const f = (n: number) => new Float64Array(n);
  const lists = () => ({ bidOffsets: new Int32Array(1), bidPrices: f(0), bidSizes: f(0) });
  const levels = { ...lists(), askOffsets: new Int32Array(1), askPrices: f(0), askSizes: f(0) };
  const ev: BookEvents = {
    length: 2,
    kind: Uint8Array.from([SNAPSHOT, CHANGE]),
    ts: f(2),
    recvTs: f(2),
    digest: new Int32Array(2),
    snapshots: levels,
    changes: levels,
  };
  const out: ColumnArrays = {
    ts: f(2),
    recvTs: f(2),
    digest: new Int32Array(2),
    events: f(0),
    bidPrice: [f(2)],
    bidSize: [f(2)],
    askPrice: [f(2)],
    askSize: [f(2)],
    ofi: f(2),
    mid: f(2),
    spread: f(2),
    microprice: f(2),
    imbalance: [f(2)],
  };
  const ask: SideOutput = { prices: out.askPrice, sizes: out.askSize, cum: [f(2)], flow: f(2) };
  const rowEnds = Int32Array.from([1, 2]);
  const join = new RowJoin({ ev, rows: 2, rowEnds, clocked: false, bidFlow: f(2), out, ask });
  join.run();
  return join;
}

/** One join: the arrays it reads and writes held in fields (see {@linkcode SHAPE}). */
class RowJoin {
  readonly #kind: Uint8Array;
  readonly #recv: Float64Array;
  readonly #digestIn: Int32Array;
  readonly #length: number;
  readonly #rows: number;
  readonly #rowEnds: Int32Array;
  readonly #clocked: boolean;
  readonly #bidFlow: Float64Array;
  readonly #askFlow: Float64Array;
  readonly #bp: Float64Array;
  readonly #bs: Float64Array;
  readonly #ap: Float64Array;
  readonly #as: Float64Array;
  readonly #imbalance: readonly Float64Array[];
  readonly #askCum: readonly Float64Array[];
  readonly #recvOut: Float64Array;
  readonly #events: Float64Array;
  readonly #digest: Int32Array;
  readonly #ofi: Float64Array;
  readonly #mid: Float64Array;
  readonly #spread: Float64Array;
  readonly #microprice: Float64Array;

  constructor({ ev, rows, rowEnds, clocked, bidFlow, out, ask }: JoinInput) {
    this.#kind = ev.kind;
    this.#recv = ev.recvTs;
    this.#digestIn = ev.digest;
    this.#length = ev.length;
    this.#rows = rows;
    this.#rowEnds = rowEnds;
    this.#clocked = clocked;
    this.#bidFlow = bidFlow;
    this.#askFlow = ask.flow;
    this.#bp = out.bidPrice[0];
    this.#bs = out.bidSize[0];
    this.#ap = ask.prices[0];
    this.#as = ask.sizes[0];
    this.#imbalance = out.imbalance;
    this.#askCum = ask.cum;
    this.#recvOut = out.recvTs;
    this.#events = out.events;
    this.#digest = out.digest;
    this.#ofi = out.ofi;
    this.#mid = out.mid;
    this.#spread = out.spread;
    this.#microprice = out.microprice;
  }

  run(): JoinCounts {
    const kind = this.#kind;
    const recv = this.#recv;
    const rows = this.#rows;
    const rowEnds = this.#rowEnds;
    const bidFlow = this.#bidFlow;
    const askFlow = this.#askFlow;
    const eventExceptions: number[] = [];
    let valid = false;
    let applied = 0;
    let ignored = 0;
    let ofi = 0;
    let contributed = false;
    let events = 0;
    let lastRecv = NaN;
    let i = 0;
    for (let row = 0; row <= rows; row++) {
      const end = row < rows ? rowEnds[row] : this.#length;
      for (; i < end; i++) {
        const k = kind[i];
        if (k === RESET) {
          valid = false;
          continue;
        }
        if (k === SNAPSHOT) valid = true;
        else if (k === CHANGE) {
          if (!valid) ignored++;
          else {
            applied++;
            // The sides' flows are written up to the last row only: no row shows the rest.
            if (row < rows) {
              const e = bidFlow[i] + askFlow[i];
              if (e === e) {
                ofi += e;
                contributed = true;
              }
            }
          }
        }
        events++;
        lastRecv = recv[i];
      }
      if (row === rows) break;
      this.#row(row, lastRecv, contributed || this.#clocked ? ofi : NaN, events);
      if (!this.#clocked && events !== 1) eventExceptions.push(row, events);
      ofi = 0;
      contributed = false;
      events = 0;
    }
    return { applied, ignored, eventExceptions };
  }

  /** Writes row `row`'s joined columns. */
  #row(row: number, recv: number, ofi: number, events: number): void {
    this.#recvOut[row] = recv;
    if (this.#clocked) this.#events[row] = events;
    else this.#digest[row] = this.#digestIn[this.#rowEnds[row] - 1];
    this.#ofi[row] = ofi;
    const b = this.#bp[row];
    const bz = this.#bs[row];
    const a = this.#ap[row];
    const az = this.#as[row];
    this.#mid[row] = (b + a) / 2;
    this.#spread[row] = a - b;
    this.#microprice[row] = (b * az + a * bz) / (bz + az);
    const imbalance = this.#imbalance;
    const askCum = this.#askCum;
    for (let j = 0; j < imbalance.length; j++) {
      const bk = imbalance[j][row];
      const ak = askCum[j][row];
      imbalance[j][row] = (bk - ak) / (bk + ak);
    }
  }
}
