/**
 * The rebuild: applies {@linkcode BookEvents} to a book and samples the top levels and the
 * order-flow imbalance at every event or on a clock, into columns. The rows are scheduled
 * first (which events each row follows: `scheduleRows`), then each side is rebuilt on its
 * own (`_book_side_replay.ts`: the sides never read each other, so the ask side may run on a
 * worker meanwhile: {@linkcode replayBookOn}), then the rows are joined (the columns that
 * need both sides).
 * @module
 */
import type { BookEvents } from "./_book_events.ts";
import {
  ofiPart,
  replaySide,
  type SideInput,
  type SideLists,
  type SideOutput,
} from "./_book_side_replay.ts";
import { joinRows } from "./_book_join.ts";
import { eventCounts, LazyColumn, zeros } from "./_lazy_column.ts";
import {
  allocate,
  clockRows,
  type ColumnArrays,
  countEventRows,
  scheduleRows,
  trim,
} from "./_replay_columns.ts";
import type { Scratch, TypedArrayOf } from "./_scratch.ts";
import type { SideReplayPool } from "./_side_replay_pool.ts";

/** Options of {@linkcode replayBook} (checked by the caller). */
export interface ReplayOptions {
  /** Levels per side sampled (>= 1). */
  readonly levels: number;
  /** Clock interval in microseconds; `undefined` samples after every snapshot and change. */
  readonly every?: number;
  /** Which time orders the clock and the `from`/`to` window. */
  readonly clock: "ts" | "recv_ts";
  /** Inclusive start of the rows returned (clock time); events before it warm the book up. */
  readonly from?: number;
  /** Exclusive end of the rows returned (clock time). */
  readonly to?: number;
  /**
   * Levels per side the stores keep of a snapshot (50): a stored snapshot side with this many
   * levels may have been cut, so prices beyond its worst level are unknown until a change
   * names them (sampled as NaN).
   */
  readonly storedDepth: number;
  /**
   * Levels per side the venue maintains (the book truncates to it after each change, as the
   * collector's does), from the snapshot's level counts; `Infinity` for no truncation.
   */
  readonly venueDepth: (bidLevels: number, askLevels: number) => number;
  /** Depths `k` (1..levels) of the `imbalance` columns; none by default. */
  readonly imbalanceLevels?: readonly number[];
  /**
   * Columns of an earlier replay whose memory the new columns may take (their buffers are
   * overwritten): see `bookSeries`' `reuse`.
   */
  readonly reuse?: ReusableColumns;
  /**
   * Where the replay's intermediates (row schedule, each side's flow and summed sizes: about
   * 36 bytes per event) are kept between calls, instead of fresh arrays per call.
   */
  readonly scratch?: Scratch;
}

/**
 * The arrays of {@linkcode ReplayColumns} whose buffers a later replay may reuse (`events`
 * and `digest` where they were made).
 */
export type ReusableColumns =
  & Omit<ReplayColumns, "rows" | "applied" | "ignored" | "lazy" | "events" | "digest">
  & { readonly events?: Float64Array; readonly digest?: Int32Array };

/**
 * The columns of {@linkcode ReplayColumns} that follow from the sampling mode, made on first
 * read: `digest` on clock rows (all 0), `events` on event rows (1 but where events were
 * applied without a row of their own).
 */
export interface ModeColumns {
  readonly events: LazyColumn<Float64Array>;
  readonly digest: LazyColumn<Int32Array>;
}

/** A replay's columns ({@linkcode ColumnArrays}, cut to `rows`) and its counts. */
export interface ReplayColumns extends ColumnArrays {
  readonly rows: number;
  /** `events` and `digest` as lazy columns (read `made` without making them). */
  readonly lazy: ModeColumns;
  /** Changes applied to a valid book, in total. */
  readonly applied: number;
  /** Changes that found no valid book (before the first snapshot, after a reset). */
  readonly ignored: number;
}

/** Rebuilds the book over `ev` and samples it (see {@linkcode ReplayOptions}), on this thread. */
export function replayBook(ev: BookEvents, o: ReplayOptions): ReplayColumns {
  const plan = planReplay(ev, o);
  const out = plan.rest();
  replaySide(sideInput(plan, 1), bidOutput(plan, out));
  const ask = askOutput(plan);
  replaySide(sideInput(plan, -1), ask);
  return joinSides(plan, out, ask);
}

/**
 * {@linkcode replayBook} with the ask side rebuilt on `pool`'s worker while this thread
 * rebuilds the bid side (the same columns: each side is the same code on either thread).
 * Where the worker cannot (it died, or none may start), this thread rebuilds both.
 */
export async function replayBookOn(
  pool: SideReplayPool,
  ev: BookEvents,
  o: ReplayOptions,
): Promise<ReplayColumns> {
  const plan = planReplay(ev, o);
  const input = sideInput(plan, -1);
  const given = askOutput(plan);
  const job = pool.replay(input, given);
  // The other columns are allocated (and zeroed) while the worker already runs.
  const out = plan.rest();
  replaySide(sideInput(plan, 1), bidOutput(plan, out));
  let ask = await job;
  if (ask !== undefined && o.scratch !== undefined) {
    // The intermediates came back in buffers of their own (see `Scratch.adopt`).
    ask.cum.forEach((a, j) => o.scratch!.adopt(`askCum${j}`, a.buffer as ArrayBuffer));
    o.scratch.adopt("askFlow", ask.flow.buffer as ArrayBuffer);
  }
  if (ask === undefined) {
    // Arrays given to a worker that failed are gone with it (their buffers detached).
    const fresh = (n: number) => (a: Float64Array) =>
      (a.buffer as ArrayBuffer).detached ? new Float64Array(n) : a;
    const columns = fresh(plan.ts.length);
    ask = {
      prices: given.prices.map(columns),
      sizes: given.sizes.map(columns),
      cum: given.cum.map(fresh(plan.rows)),
      flow: fresh(ev.length)(given.flow),
    };
    replaySide(input, ask);
  }
  return joinSides(plan, out, ask);
}

/**
 * A replay's rows scheduled, its `ts` and ask columns allocated (`allocate`'s first step),
 * and `rest()` to allocate the others.
 */
interface ReplayPlan extends ReturnType<typeof allocate> {
  readonly ev: BookEvents;
  readonly o: ReplayOptions;
  readonly rows: number;
  /** Row `r` shows the book after the first `rowEnds[r]` events. */
  readonly rowEnds: Int32Array;
  /** The venue's depth after each snapshot (`o.venueDepth` of its level counts). */
  readonly snapshotDepths: Float64Array;
  /** Level indexes of the imbalance columns. */
  readonly cumDepths: number[];
  /** The bid side's part of each event's order-flow step. */
  readonly bidFlow: Float64Array;
}

function planReplay(ev: BookEvents, o: ReplayOptions): ReplayPlan {
  const time = o.clock === "ts" ? ev.ts : ev.recvTs;
  const every = o.every;
  const from = o.from ?? -Infinity;
  const to = o.to ?? Infinity;
  const capacity = every === undefined
    ? countEventRows(ev.kind, time, from, to)
    : clockRows(time, every, from, to);
  const columns = allocate(capacity, o, o.reuse);
  const rowEnds = temporary(o, "rowEnds", Int32Array, capacity);
  const clock = { kind: ev.kind, ts: ev.ts, time, every, from, to };
  const rows = scheduleRows(clock, columns.ts, rowEnds);
  const s = ev.snapshots;
  const snapshotDepths = new Float64Array(s.bidOffsets.length - 1);
  for (let k = 0; k < snapshotDepths.length; k++) {
    const depth = o.venueDepth(
      s.bidOffsets[k + 1] - s.bidOffsets[k],
      s.askOffsets[k + 1] - s.askOffsets[k],
    );
    if (!(depth > 0)) throw new RangeError(`venue depth must be positive, got ${depth}`);
    snapshotDepths[k] = depth;
  }
  const cumDepths = (o.imbalanceLevels ?? []).map((k) => k - 1);
  return {
    ...columns,
    ev,
    o,
    rows,
    rowEnds,
    snapshotDepths,
    cumDepths,
    bidFlow: temporary(o, "bidFlow", Float64Array, ev.length),
  };
}

/** An intermediate array of `length`: on `o.scratch` when given (values of its last use). */
function temporary<T>(o: ReplayOptions, key: string, make: TypedArrayOf<T>, length: number): T {
  return o.scratch ? o.scratch.array(key, make, length) : new make(length);
}

/** What side `sign` of a planned replay reads. */
function sideInput(plan: ReplayPlan, sign: 1 | -1): SideInput {
  const { ev, o } = plan;
  const lists = (l: BookEvents["changes"]): SideLists =>
    sign === 1
      ? { offsets: l.bidOffsets, prices: l.bidPrices, sizes: l.bidSizes }
      : { offsets: l.askOffsets, prices: l.askPrices, sizes: l.askSizes };
  return {
    sign,
    kind: ev.kind,
    rowEnds: plan.rowEnds,
    rows: plan.rows,
    snapshots: lists(ev.snapshots),
    snapshotDepths: plan.snapshotDepths,
    changes: lists(ev.changes),
    levels: o.levels,
    storedDepth: o.storedDepth,
    cumDepths: plan.cumDepths,
  };
}

/** The bid side writes its level columns, and its summed sizes into the imbalance columns. */
function bidOutput(plan: ReplayPlan, out: ColumnArrays): SideOutput {
  return { prices: out.bidPrice, sizes: out.bidSize, cum: out.imbalance, flow: plan.bidFlow };
}

/**
 * The ask side writes its level columns (allocated with the others: memory of this thread's
 * allocator, which keeps what it frees for the next rebuild) and its summed sizes apart.
 */
function askOutput(plan: ReplayPlan): SideOutput {
  const rows = plan.rows;
  return {
    prices: plan.askPrice,
    sizes: plan.askSize,
    cum: plan.cumDepths.map((_, j) => temporary(plan.o, `askCum${j}`, Float64Array, rows)),
    flow: temporary(plan.o, "askFlow", Float64Array, plan.ev.length),
  };
}

/**
 * Writes the columns that need both sides (order-flow imbalance, mid, spread, microprice,
 * imbalance) and the event columns, and returns the replay's columns.
 */
function joinSides(plan: ReplayPlan, written: ColumnArrays, ask: SideOutput): ReplayColumns {
  const { rows, o } = plan;
  const every = o.every;
  const out = { ...written, askPrice: ask.prices, askSize: ask.sizes };
  const counts = joinRows({
    ev: plan.ev,
    rows: plan.rows,
    rowEnds: plan.rowEnds,
    clocked: every !== undefined,
    bidFlow: plan.bidFlow,
    out,
    ask,
  });
  const { events, digest, ...columns } = trim(out, rows);
  const old = o.reuse;
  const exceptions = counts.eventExceptions;
  const lazy: ModeColumns = {
    events: every === undefined
      ? new LazyColumn(() => eventCounts(rows, exceptions, old?.events))
      : LazyColumn.of(events),
    digest: every === undefined
      ? LazyColumn.of(digest)
      : new LazyColumn(() => zeros(rows, old?.digest)),
  };
  return {
    ...columns,
    rows,
    applied: counts.applied,
    ignored: counts.ignored,
    lazy,
    get events() {
      return lazy.events.value;
    },
    get digest() {
      return lazy.digest.value;
    },
  };
}

/**
 * One event's order-flow contribution (Cont, Kukanov and Stoikov 2014, eq. 2):
 * `e = ([b >= pb] bs - [b <= pb] pbs) + ([a >= pa] pas - [a <= pa] as)`, from the previous
 * best bid/ask prices and sizes (`pb, pbs, pa, pas`) and the current ones: the bid side's
 * part plus the ask side's ({@linkcode ofiPart}, summed in this order by the rebuild). NaN
 * when either is missing (no book, an empty side).
 */
export function ofiStep(
  pb: number,
  pbs: number,
  pa: number,
  pas: number,
  b: number,
  bs: number,
  a: number,
  as: number,
): number {
  if (!(pb === pb && pa === pa && b === b && a === a)) return NaN;
  return ofiPart(1, pb, pbs, b, bs) + ofiPart(-1, pa, pas, a, as);
}
