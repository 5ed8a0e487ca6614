/**
 * The bar pass of `timeBars` for one series (no `by` columns): one loop over typed-array
 * slices of the trades that computes the bars, the signed volume, the realized variance and
 * the data checks together, with no per-row intermediate column.
 *
 * The trades are read from Polars in slices of {@linkcode SLICE_ROWS} rows: a slice's
 * typed arrays are small enough to be reused by the allocator, where one array per column
 * of 10M rows costs a fresh mapping (and a page fault per 4 KB) on every call.
 * @module
 */
import pl from "nodejs-polars";

/** Rows converted to typed arrays at a time. */
export const SLICE_ROWS = 1 << 18;

/** Side codes of the `__c` column: see {@linkcode sideCode}. */
const BUY = 1;
const SELL = 2;
const BAD_SIDE = 3;

/** How trades are signed: as `signedVolume`'s `tickRule` option, or not at all. */
export type SignMode = "fallback" | "always" | "never" | "none";

/** What the pass computes besides OHLCV. */
export interface BarPassOptions {
  /** Bar length in microseconds. */
  readonly every: number;
  /** Sign trades and sum `signed_volume`. */
  readonly sign: SignMode;
  /** Sum squared trade-to-trade log returns into `realized_variance`. */
  readonly realizedVariance: boolean;
  /** Columns summed per bar (read from `__sum0`, `__sum1`, ... with nulls as 0). */
  readonly sums: readonly string[];
}

/** Which data checks failed (the caller raises, in its own order). */
export interface BarPassFlags {
  unordered: boolean;
  badSide: boolean;
  nonPositive: boolean;
}

/**
 * The side as an Int8 code: 1 buy, 2 sell, 0 unknown (null, `unknown` or empty), 3 any
 * other value (a data error).
 */
export function sideCode(side: string): pl.Expr {
  const s = pl.col(side).cast(pl.Utf8);
  const unknown = s.isNull().or(s.eq(pl.lit("unknown"))).or(s.eq(pl.lit("")));
  return pl.when(s.eq(pl.lit("buy"))).then(pl.lit(BUY))
    .when(s.eq(pl.lit("sell"))).then(pl.lit(SELL))
    .when(unknown).then(pl.lit(0))
    .otherwise(pl.lit(BAD_SIDE)).cast(pl.Int8);
}

/** Growable per-bar columns. */
class Columns {
  size = 0;
  cols: Float64Array[];
  constructor(readonly count: number) {
    this.cols = Array.from({ length: count }, () => new Float64Array(256));
  }
  /** Index of a new bar (columns doubled when full). */
  push(): number {
    if (this.size === this.cols[0].length) {
      this.cols = this.cols.map((c) => {
        const next = new Float64Array(c.length * 2);
        next.set(c);
        return next;
      });
    }
    return this.size++;
  }
}

// Column slots of the per-bar state.
const B = 0, OPEN = 1, HIGH = 2, LOW = 3, CLOSE = 4, VOLUME = 5, PV = 6, TRADES = 7, NAN = 8;
const SV = 9, RV = 10, RC = 11, SUMS = 12;

/**
 * Runs the pass over `frame`, whose columns are `__p` (Float64 price, NaN for missing),
 * `__s` (Float64 size), `__t` (Int64 microseconds, no nulls), `__c` (Int8 side code, when
 * the sign mode reads the side) and `__sum<i>` (Float64, nulls as 0). Returns the bars as
 * `timeBars`' unsorted frame (`__b`, OHLCV, `__nan`, extra columns) and the check flags.
 */
export function barPass(
  frame: pl.DataFrame,
  options: BarPassOptions,
): { bars: pl.DataFrame; flags: BarPassFlags } {
  const { every, sign, sums } = options;
  const out = new Columns(SUMS + sums.length);
  const flags: BarPassFlags = { unordered: false, badSide: false, nonPositive: false };
  const readsSide = sign === "fallback" || sign === "never";
  const ticks = sign === "fallback" || sign === "always";
  let c = out.cols;
  let bar = -1;
  let bucket = NaN;
  let prevT = -Infinity;
  let prevP = NaN;
  let tick = NaN; // the tick-rule sign; `tickKnown` false while it is null
  let tickKnown = false;
  for (let offset = 0; offset < frame.height; offset += SLICE_ROWS) {
    const slice = frame.slice(offset, SLICE_ROWS);
    const price = slice.getColumn("__p").toTypedArray() as Float64Array;
    const size = slice.getColumn("__s").toTypedArray() as Float64Array;
    const t64 = slice.getColumn("__t").toTypedArray() as BigInt64Array;
    // Int64 read as two Int32 halves (little-endian): no BigInt per row.
    const t32 = new Int32Array(t64.buffer, t64.byteOffset, t64.length * 2);
    const code = readsSide ? slice.getColumn("__c").toTypedArray() as Int8Array : undefined;
    const extra = sums.map((_, i) => slice.getColumn(`__sum${i}`).toTypedArray() as Float64Array);
    for (let i = 0; i < price.length; i++) {
      const t = t32[2 * i + 1] * 4294967296 + (t32[2 * i] >>> 0);
      if (t < prevT) flags.unordered = true;
      prevT = t;
      const p = price[i];
      const q = size[i];
      if (p <= 0) flags.nonPositive = true;
      const first = offset + i === 0;
      if (ticks && !first) {
        const d = p - prevP;
        if (d !== 0) {
          tick = d / Math.abs(d); // NaN for a NaN change
          tickKnown = true;
        }
      }
      const k = t - (((t % every) + every) % every);
      if (k !== bucket) {
        bucket = k;
        bar = out.push();
        c = out.cols;
        c[B][bar] = k;
        c[OPEN][bar] = p;
        c[HIGH][bar] = p;
        c[LOW][bar] = p;
      }
      if (p > c[HIGH][bar]) c[HIGH][bar] = p;
      if (p < c[LOW][bar]) c[LOW][bar] = p;
      if (p !== p) c[NAN][bar] = 1;
      c[CLOSE][bar] = p;
      c[VOLUME][bar] += q;
      c[PV][bar] += p * q;
      c[TRADES][bar]++;
      if (sign !== "none") {
        const s = code === undefined ? 0 : code[i];
        if (s === BAD_SIDE) flags.badSide = true;
        if (s === BUY) c[SV][bar] += q;
        else if (s === SELL) c[SV][bar] -= q;
        else if (ticks && tickKnown) c[SV][bar] += tick * q;
      }
      if (options.realizedVariance && !first) {
        const r = Math.log(p / prevP);
        c[RV][bar] += r * r;
        c[RC][bar]++;
      }
      for (let j = 0; j < extra.length; j++) c[SUMS + j][bar] += extra[j][i];
      prevP = p;
    }
  }
  return { bars: toFrame(out, options), flags };
}

/** The per-bar columns as `timeBars`' unsorted frame. */
function toFrame(out: Columns, options: BarPassOptions): pl.DataFrame {
  const n = out.size;
  const col = (slot: number, name: string) => pl.Series(name, out.cols[slot].slice(0, n));
  const series = [
    col(B, "__b").cast(pl.Int64),
    col(OPEN, "open"),
    col(HIGH, "high"),
    col(LOW, "low"),
    col(CLOSE, "close"),
    col(VOLUME, "volume"),
    col(PV, "__pv"),
    col(TRADES, "trades").cast(pl.UInt32),
    col(NAN, "__nan").cast(pl.Bool),
    ...options.sums.map((name, j) => col(SUMS + j, name)),
    ...(options.sign !== "none" ? [col(SV, "signed_volume")] : []),
    ...(options.realizedVariance ? [col(RV, "realized_variance"), col(RC, "__rc")] : []),
  ];
  return pl.DataFrame(series).lazy().withColumns(
    pl.col("__pv").div(pl.col("volume")).alias("vwap"),
    ...(options.realizedVariance
      ? [
        pl.when(pl.col("__rc").eq(0)).then(pl.lit(null)).otherwise(pl.col("realized_variance"))
          .cast(pl.Float64).alias("realized_variance"),
      ]
      : []),
  ).collectSync();
}
