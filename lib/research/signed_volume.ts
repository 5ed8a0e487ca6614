/**
 * Trade signs and signed volume: the venue's taker side, or the tick rule where the venue
 * gives none.
 * @module
 */
import pl from "nodejs-polars";
import {
  checkFrame,
  checkTime,
  type DeferredCheck,
  firstTrue,
  groupColumns,
  num,
  overGroups,
  requireColumn,
  runChecks,
  type Source,
  timeChecks,
  valueAt,
} from "./_frame.ts";

/** Options of {@linkcode tickRule}. */
export interface TickRuleOptions {
  /** Price column (default `price`). */
  readonly price?: string;
  /** Time column (default `ts`), checked to be in order. */
  readonly time?: string;
  /** Columns that identify one series. */
  readonly by?: string | readonly string[];
  /** Name of the added column (default `tick_sign`). */
  readonly name?: string;
}

/**
 * The tick-rule sign of each trade (Lee and Ready's tick test):
 *
 *     s_i = +1 if p_i > p_{i-1},  -1 if p_i < p_{i-1},  s_{i-1} if p_i = p_{i-1}
 *
 * null until the series' first price change (unknown). NaN where the price or the
 * previous price is NaN or null, and a NaN sign carries through equal prices like any
 * other sign until the next change.
 */
export function tickRuleExpr(price: string, by: readonly string[]): pl.Expr {
  const d = overGroups(num(price).diff(1, "ignore"), by);
  // d / |d| is +1 or -1, and NaN for a NaN change; a zero change is unknown (null).
  const raw = pl.when(d.eq(0)).then(pl.lit(null)).otherwise(d.div(d.abs())).cast(pl.Float64);
  return overGroups(raw.forwardFill(), by);
}

/**
 * Adds the tick-rule sign (see {@linkcode tickRuleExpr} for the rule) as a Float64 column.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} when time is missing or out of order.
 */
export function tickRule(frame: pl.DataFrame, options: TickRuleOptions = {}): pl.DataFrame {
  const fn = "tickRule";
  checkFrame(frame, fn);
  const { price = "price", time = "ts", name = "tick_sign" } = options ?? {};
  const by = groupColumns(frame, options?.by, fn);
  requireColumn(frame, price, "number", fn);
  checkTime(frame, time, fn, by);
  return frame.withColumns(tickRuleExpr(price, by).alias(name));
}

/** Options of {@linkcode signedVolume}. */
export interface SignedVolumeOptions {
  /** Taker side column, `buy` / `sell` / `unknown` or null (default `side`). */
  readonly side?: string;
  /** Size column (default `size`). */
  readonly size?: string;
  /** Price column for the tick rule (default `price`). */
  readonly price?: string;
  /** Time column (default `ts`), checked to be in order. */
  readonly time?: string;
  /** Columns that identify one series. */
  readonly by?: string | readonly string[];
  /**
   * Where the tick rule applies: `fallback` (default) for trades whose side is `unknown`,
   * null or empty; `always` ignores the side column (which may then be absent); `never`
   * leaves such trades unsigned.
   */
  readonly tickRule?: "fallback" | "always" | "never";
}

const KNOWN_SIDES = ["buy", "sell", "unknown", ""];

/**
 * Adds `sign` (Float64: +1 buyer-initiated, -1 seller-initiated) and
 * `signed_volume = sign * size`:
 *
 *     sign_i = +1 if side_i = "buy",  -1 if side_i = "sell",
 *              tick-rule sign otherwise (see tickRuleExpr), per `options.tickRule`
 *
 * Trades whose sign stays unknown (no side and no price change yet) have null `sign` and
 * null `signed_volume`, and sums skip them. A NaN size gives a NaN signed volume.
 *
 * @throws {TypeError} when a column is missing or of the wrong type.
 * @throws {RangeError} for a side other than `buy`, `sell`, `unknown`, empty or null (the
 * row and value are named), or time missing or out of order.
 */
export function signedVolume(frame: pl.DataFrame, options: SignedVolumeOptions = {}): pl.DataFrame {
  const fn = "signedVolume";
  checkFrame(frame, fn);
  const { size = "size", time = "ts" } = options ?? {};
  const by = groupColumns(frame, options?.by, fn);
  requireColumn(frame, size, "number", fn);
  const { sign, checks } = signExpr(frame, options, by, fn);
  runChecks(frame, [...checks, ...timeChecks(frame, time, fn, by).checks]);
  return frame.withColumns(sign.alias("sign"), sign.mul(num(size)).alias("signed_volume"));
}

/**
 * The sign expression of {@linkcode signedVolume} and the check of the side values it
 * reads (to run with `runChecks` or inside the caller's query; time is the caller's).
 */
export function signExpr(
  frame: Source,
  options: Pick<SignedVolumeOptions, "side" | "price" | "tickRule"> | undefined,
  by: readonly string[],
  fn: string,
): { sign: pl.Expr; checks: DeferredCheck[] } {
  const { side = "side", price = "price" } = options ?? {};
  const mode = options?.tickRule ?? "fallback";
  if (!["fallback", "always", "never"].includes(mode)) {
    throw new RangeError(`${fn}: tickRule must be "fallback", "always" or "never", got ${mode}`);
  }
  if (mode !== "never") requireColumn(frame, price, "number", fn);
  const tick = mode === "never" ? pl.lit(null).cast(pl.Float64) : tickRuleExpr(price, by);
  if (mode === "always") return { sign: tick, checks: [] };
  requireColumn(frame, side, "text", fn);
  const s = pl.col(side).cast(pl.Utf8);
  const known = KNOWN_SIDES.map((v) => s.eq(pl.lit(v))).reduce((a, b) => a.or(b));
  const bad = s.isNotNull().and(known.not());
  const check: DeferredCheck = {
    bad,
    raise: () => {
      const row = firstTrue(frame, bad);
      throw new RangeError(
        `${fn}: column "${side}" holds "${valueAt(frame, side, row)}" at row ${row}; ` +
          `expected buy, sell, unknown, empty or null`,
      );
    },
  };
  const sign = pl.when(s.eq(pl.lit("buy"))).then(pl.lit(1))
    .when(s.eq(pl.lit("sell"))).then(pl.lit(-1))
    .otherwise(tick).cast(pl.Float64);
  return { sign, checks: [check] };
}
