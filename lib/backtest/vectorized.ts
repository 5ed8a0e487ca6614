/**
 * The vectorized path for bar strategies: many parameter sets at once over typed arrays,
 * `fromSignals`-style (entries, exits and sizes as columns), long-only, with fees, slippage,
 * stop-loss and take-profit. Plain loops over `Float64Array`s: nothing to compile or warm up.
 *
 * ## Timing
 * A signal on bar `i` is computed from bar `i`'s close. By default (`execution: "next_open"`)
 * it executes at bar `i + 1`'s open, like the event-driven engine; `execution: "close"` fills
 * at bar `i`'s close, a price the signal could not have traded at: the result then carries a
 * look-ahead warning.
 *
 * ## Per bar, per column
 * 1. a pending entry or exit executes at the open (buy at `open * (1 + slippage)`, sell at
 *    `open * (1 - slippage)`, fee `fees * notional`);
 * 2. while long, a stop-loss at `entry * (1 - stopLoss)` and a take-profit at
 *    `entry * (1 + takeProfit)` are checked against the bar (`low`/`high` when given, else the
 *    close): a gap through a level exits at the open, otherwise at the level (slippage and
 *    fee applied); when both levels are inside one bar the stop-loss is assumed first;
 * 3. equity is valued at the close;
 * 4. signals: flat with an entry (and no exit) on this bar orders a buy, long with an exit
 *    (and no entry) orders a sell; conflicting signals are ignored.
 *
 * Size: with `sizeType: "percent"` (default) an entry invests `size` (0..1) of the cash,
 * fee included; with `"units"` it buys `size` units (cash may go negative: no margin check).
 * @module
 */

/** A column of flags (non-zero = true) or of numbers. */
export type Column = ArrayLike<number> | readonly boolean[];

/** Options of {@linkcode fromSignals}. */
export interface FromSignalsOptions {
  /** Close of each bar. */
  readonly close: Float64Array;
  /** Open of each bar; required for `execution: "next_open"`. */
  readonly open?: Float64Array;
  /** Highs and lows: stops are checked against them (else against the close). */
  readonly high?: Float64Array;
  readonly low?: Float64Array;
  /** Entry signals: one column per parameter set (a single column is shared). */
  readonly entries: readonly Column[];
  /** Exit signals: one column per parameter set, or one shared. */
  readonly exits: readonly Column[];
  /** Per column: a constant size, or a size per bar (default 1). */
  readonly sizes?: readonly (number | Float64Array)[] | number;
  readonly sizeType?: "percent" | "units";
  /** Fee as a fraction of notional (default 0). */
  readonly fees?: number;
  /** Adverse price slippage as a fraction (default 0). */
  readonly slippage?: number;
  /** Stop-loss distance as a fraction of the entry price, per column or shared. */
  readonly stopLoss?: number | readonly number[];
  /** Take-profit distance as a fraction of the entry price, per column or shared. */
  readonly takeProfit?: number | readonly number[];
  /** Starting cash (default 1). */
  readonly initialCash?: number;
  readonly execution?: "next_open" | "close";
  /** Keep each column's equity curve (default true; false saves `8 * bars` bytes per column). */
  readonly keepEquity?: boolean;
  /** Annualisation of the per-bar Sharpe ratio (default 252). */
  readonly periodsPerYear?: number;
}

/** The outcome per parameter set. */
export interface VectorizedResult {
  readonly columns: number;
  readonly finalEquity: Float64Array;
  readonly totalReturn: Float64Array;
  readonly maxDrawdown: Float64Array;
  /** Sharpe of per-bar returns (sample std), annualised. */
  readonly sharpe: Float64Array;
  /** Round trips and opens: number of fills. */
  readonly fills: Int32Array;
  readonly fees: Float64Array;
  /** Equity at each bar's close, per column (when kept). */
  readonly equity?: readonly Float64Array[];
  readonly warnings: readonly string[];
}

/**
 * Simulates every column of signals.
 * @throws {TypeError} for missing arrays; {RangeError} for lengths that do not match, or
 * column counts that are neither 1 nor the number of parameter sets.
 */
export function fromSignals(o: FromSignalsOptions): VectorizedResult {
  const { close } = o;
  if (!(close instanceof Float64Array)) throw new TypeError("close must be a Float64Array");
  const n = close.length;
  const execution = o.execution ?? "next_open";
  const open = o.open;
  if (execution === "next_open" && open === undefined) {
    throw new TypeError('execution "next_open" needs the open prices');
  }
  for (const [name, a] of [["open", open], ["high", o.high], ["low", o.low]] as const) {
    if (a !== undefined && a.length !== n) {
      throw new RangeError(`${name} has ${a.length} bars, close ${n}`);
    }
  }
  const k = Math.max(o.entries.length, o.exits.length);
  const col = <T>(xs: readonly T[], name: string) => {
    if (xs.length !== 1 && xs.length !== k) throw new RangeError(`${name} needs 1 or ${k} columns`);
    for (const x of xs) {
      if ((x as ArrayLike<number>).length !== n) {
        throw new RangeError(`${name} columns need ${n} bars`);
      }
    }
    return (c: number) => xs[xs.length === 1 ? 0 : c];
  };
  const entryOf = col(o.entries, "entries");
  const exitOf = col(o.exits, "exits");
  const per = (x: number | readonly number[] | undefined, c: number) =>
    x === undefined ? NaN : typeof x === "number" ? x : x[x.length === 1 ? 0 : c];
  const warnings = execution === "close"
    ? ['execution "close": signals fill at the close they were computed from (look-ahead)']
    : [];
  const out = {
    columns: k,
    finalEquity: new Float64Array(k),
    totalReturn: new Float64Array(k),
    maxDrawdown: new Float64Array(k),
    sharpe: new Float64Array(k),
    fills: new Int32Array(k),
    fees: new Float64Array(k),
    equity: (o.keepEquity ?? true) ? [] as Float64Array[] : undefined,
    warnings,
  };
  const sizes = o.sizes ?? 1;
  for (let c = 0; c < k; c++) {
    const size = typeof sizes === "number" ? sizes : sizes[sizes.length === 1 ? 0 : c];
    const equity = out.equity !== undefined ? new Float64Array(n) : undefined;
    runColumn(
      o,
      {
        entries: entryOf(c),
        exits: exitOf(c),
        size,
        stopLoss: per(o.stopLoss, c),
        takeProfit: per(o.takeProfit, c),
        equity,
      },
      out,
      c,
    );
    if (equity !== undefined) out.equity!.push(equity);
  }
  return out;
}

interface ColumnInput {
  readonly entries: Column;
  readonly exits: Column;
  readonly size: number | Float64Array;
  readonly stopLoss: number;
  readonly takeProfit: number;
  readonly equity: Float64Array | undefined;
}

interface Outputs {
  finalEquity: Float64Array;
  totalReturn: Float64Array;
  maxDrawdown: Float64Array;
  sharpe: Float64Array;
  fills: Int32Array;
  fees: Float64Array;
}

const NONE = 0;
const BUY = 1;
const SELL = 2;

/** Cash, position, fills and fees of one column's run. */
class Account {
  cash: number;
  held = 0;
  entryPrice = 0;
  fills = 0;
  fees = 0;
  readonly #fee: number;
  readonly #units: boolean;

  constructor(cash: number, fee: number, units: boolean) {
    this.cash = cash;
    this.#fee = fee;
    this.#units = units;
  }

  /** Buys at `p` (slippage in): `size` units, or that fraction of the cash. */
  buy(p: number, size: number): void {
    const fee = this.#fee;
    const q = this.#units ? size : (this.cash * size) / (p * (1 + fee));
    if (q > 0) {
      const f = q * p * fee;
      this.cash -= q * p + f;
      this.fees += f;
      this.held = q;
      this.entryPrice = p;
      this.fills++;
    }
  }

  /** Sells the whole position at `p` (slippage in). */
  sell(p: number): void {
    const f = this.held * p * this.#fee;
    this.cash += this.held * p - f;
    this.fees += f;
    this.held = 0;
    this.fills++;
  }
}

/** Drawdown and per-bar return moments of an equity curve, value by value. */
class EquityStats {
  peak: number;
  drawdown = 0;
  prev: number;
  sum = 0;
  sumSq = 0;
  #first = true;

  constructor(initial: number) {
    this.peak = initial;
    this.prev = initial;
  }

  add(value: number): void {
    if (value > this.peak) this.peak = value;
    else if (1 - value / this.peak > this.drawdown) this.drawdown = 1 - value / this.peak;
    if (!this.#first) {
      const r = value / this.prev - 1;
      this.sum += r;
      this.sumSq += r * r;
    }
    this.#first = false;
    this.prev = value;
  }
}

function runColumn(o: FromSignalsOptions, c: ColumnInput, out: Outputs, col: number): void {
  const close = o.close;
  const n = close.length;
  // One array type per input keeps the loop monomorphic (and fast from its first run).
  const open = o.open ?? close;
  const high = o.high ?? close;
  const low = o.low ?? close;
  const entries = asFlags(c.entries);
  const exits = asFlags(c.exits);
  const constSize = typeof c.size === "number" ? c.size : NaN;
  const sizes = typeof c.size === "number" ? EMPTY : c.size;
  const slip = o.slippage ?? 0;
  const atClose = o.execution === "close";
  const { stopLoss, takeProfit, equity } = c;
  const hasSl = stopLoss === stopLoss;
  const hasTp = takeProfit === takeProfit;
  const initial = o.initialCash ?? 1;
  const account = new Account(initial, o.fees ?? 0, o.sizeType === "units");
  const stats = new EquityStats(initial);
  let pending = NONE;
  let pendingSize = 0;
  for (let i = 0; i < n; i++) {
    // 1. the order of the previous bar, at this open; 2. stops. `sellAt` NaN: no exit.
    let sellAt = NaN;
    if (pending === BUY) {
      if (open[i] === open[i]) account.buy(open[i] * (1 + slip), pendingSize);
    } else if (pending === SELL) sellAt = open[i];
    pending = NONE;
    if (account.held > 0 && sellAt !== sellAt && (hasSl || hasTp)) {
      const first = open[i];
      const sl = account.entryPrice * (1 - stopLoss);
      const tp = account.entryPrice * (1 + takeProfit);
      if (hasSl && low[i] <= sl) sellAt = first <= sl ? first : sl;
      else if (hasTp && high[i] >= tp) sellAt = first >= tp ? first : tp;
    }
    if (sellAt === sellAt && account.held > 0) account.sell(sellAt * (1 - slip));
    // 4. signals of this bar (at this close when asked).
    const en = entries[i] !== 0;
    if (en !== (exits[i] !== 0)) {
      if (en && account.held === 0) {
        const size = sizes === EMPTY ? constSize : sizes[i];
        if (atClose) account.buy(close[i] * (1 + slip), size);
        else if (i + 1 < n) {
          pending = BUY;
          pendingSize = size;
        }
      } else if (!en && account.held > 0) {
        if (atClose) account.sell(close[i] * (1 - slip));
        else if (i + 1 < n) pending = SELL;
      }
    }
    // 3. value at the close.
    const value = account.cash + account.held * close[i];
    if (equity !== undefined) equity[i] = value;
    stats.add(value);
  }
  const last = n > 0 ? stats.prev : initial;
  out.finalEquity[col] = last;
  out.totalReturn[col] = last / initial - 1;
  out.maxDrawdown[col] = stats.drawdown;
  const m = n - 1;
  const { sum, sumSq } = stats;
  const variance = m > 1 ? (sumSq - sum * sum / m) / (m - 1) : NaN;
  out.sharpe[col] = variance > 0
    ? (sum / m) / Math.sqrt(variance) * Math.sqrt(o.periodsPerYear ?? 252)
    : NaN;
  out.fills[col] = account.fills;
  out.fees[col] = account.fees;
}

const EMPTY = new Float64Array(0);

function asFlags(column: Column): Uint8Array {
  if (column instanceof Uint8Array) return column;
  const flags = new Uint8Array(column.length);
  for (let i = 0; i < column.length; i++) flags[i] = column[i] ? 1 : 0;
  return flags;
}

/**
 * Moving-average crossover signals: entry where the `fast`-bar mean of `close` crosses above
 * the `slow`-bar mean, exit where it crosses below (no signal until `slow` bars exist).
 * @throws {RangeError} unless `0 < fast < slow` are whole numbers.
 */
export function crossSignals(
  close: Float64Array,
  fast: number,
  slow: number,
): { entries: Uint8Array; exits: Uint8Array } {
  if (!Number.isInteger(fast) || !Number.isInteger(slow) || !(0 < fast && fast < slow)) {
    throw new RangeError(`need whole 0 < fast < slow, got ${fast}, ${slow}`);
  }
  const n = close.length;
  const entries = new Uint8Array(n);
  const exits = new Uint8Array(n);
  let fastSum = 0;
  let slowSum = 0;
  let wasUp = false;
  for (let i = 0; i < n; i++) {
    const x = close[i];
    fastSum += x - (i >= fast ? close[i - fast] : 0);
    slowSum += x - (i >= slow ? close[i - slow] : 0);
    if (i < slow - 1) continue;
    const up = fastSum / fast > slowSum / slow;
    if (i >= slow && up !== wasUp) {
      if (up) entries[i] = 1;
      else exits[i] = 1;
    } else if (i === slow - 1 && up) entries[i] = 1;
    wasUp = up;
  }
  return { entries, exits };
}
