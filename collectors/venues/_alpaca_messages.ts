/**
 * Alpaca market-data messages to market events: trades (`t`), quotes (`q`), bars (`b`,
 * `u`, `d`), crypto order books (`o`), and trade corrections (`c`) and cancels (`x`).
 * @module
 */
import type { Bar, MarketEvent, PriceLevel, TakerSide } from "../../lib/market/types.ts";
import { MIN_VALID_MICROS, parseIsoMicros } from "../../lib/market/time.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import { type AlpacaContext, bad, type Json, status, symbolOf } from "./_alpaca_context.ts";

/** Recent trade ids remembered per symbol to drop repeats. */
const RECENT_IDS = 256;

/** A trade; repeats of a recent id are dropped (counted). */
export function trade(
  ctx: AlpacaContext,
  m: Json,
  idText: string | undefined,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const symbol = symbolOf(ctx, m, frame);
  if (symbol === undefined) return;
  const price = m.p;
  const size = m.s;
  const ts = parseIsoMicros(m.t);
  let side: TakerSide = "unknown";
  if (ctx.crypto) {
    side = m.tks === "B" ? "buy" : m.tks === "S" ? "sell" : "unknown";
  }
  if (idText === undefined || !/^\d{1,20}$/.test(idText)) {
    return bad(ctx, "trade without an integer id", frame, { symbol });
  }
  if (!(price > 0) || !(size > 0) || !(ts >= MIN_VALID_MICROS)) {
    return bad(ctx, "trade with impossible values", frame, { symbol });
  }
  const id = !ctx.crypto && typeof m.x === "string" ? `${m.x}:${idText}` : idText;
  let recent = ctx.recentIds.get(symbol);
  if (recent === undefined) {
    recent = new Set();
    ctx.recentIds.set(symbol, recent);
  }
  if (recent.has(id)) {
    ctx.counts.duplicateTrades++;
    return;
  }
  recent.add(id);
  if (recent.size > RECENT_IDS) recent.delete(recent.values().next().value!);
  out.push({ kind: "trade", exchange: ctx.exchange, symbol, id, price, size, side, ts, recvTs });
}

/** A quote (a side may be empty: price 0). */
export function quote(
  ctx: AlpacaContext,
  m: Json,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const symbol = symbolOf(ctx, m, frame);
  if (symbol === undefined) return;
  const ts = parseIsoMicros(m.t);
  const { bp, bs, ap, as } = m;
  // A side can be empty (price 0) outside trading hours: kept as given, sizes >= 0.
  if (
    !(bp >= 0) || !(ap >= 0) || !(bs >= 0) || !(as >= 0) || !(ts >= MIN_VALID_MICROS)
  ) {
    return bad(ctx, "quote with impossible values", frame, { symbol });
  }
  out.push({
    kind: "quote",
    exchange: ctx.exchange,
    symbol,
    ts,
    recvTs,
    bidPrice: bp,
    bidSize: bs,
    askPrice: ap,
    askSize: as,
  });
}

/** A bar of `interval` microseconds. */
export function bar(
  ctx: AlpacaContext,
  m: Json,
  interval: number,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const symbol = symbolOf(ctx, m, frame);
  if (symbol === undefined) return;
  const ts = parseIsoMicros(m.t);
  const { o, h, l, c, v, n, vw } = m;
  if (
    !(o > 0) || !(h > 0) || !(l > 0) || !(c > 0) || !(h >= l) || !(v >= 0) ||
    !(ts >= MIN_VALID_MICROS)
  ) {
    return bad(ctx, "bar with impossible values", frame, { symbol });
  }
  const bar: Bar = {
    kind: "bar",
    exchange: ctx.exchange,
    symbol,
    ts,
    recvTs,
    interval,
    open: o,
    high: h,
    low: l,
    close: c,
    volume: v,
    vwap: typeof vw === "number" && v > 0 ? vw : NaN,
    trades: Number.isSafeInteger(n) ? n : 0,
  };
  out.push(bar);
}

/** A crypto order book message: a snapshot when `r` is true, else changes. */
export function orderbook(
  ctx: AlpacaContext,
  m: Json,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const symbol = symbolOf(ctx, m, frame);
  if (symbol === undefined) return;
  const ts = parseIsoMicros(m.t);
  const bids = bookLevels(m.b);
  const asks = bookLevels(m.a);
  if (bids === undefined || asks === undefined || !(ts >= MIN_VALID_MICROS)) {
    bad(ctx, "invalid orderbook message", frame, { symbol });
    out.push(
      status(
        ctx,
        "reset",
        symbol,
        "invalid orderbook message: book unusable until the next snapshot",
        recvTs,
      ),
    );
    return;
  }
  out.push(
    m.r === true
      ? { kind: "book_snapshot", exchange: ctx.exchange, symbol, ts, recvTs, bids, asks }
      : { kind: "book_change", exchange: ctx.exchange, symbol, ts, recvTs, bids, asks },
  );
}

/** Trade corrections (`c`) and cancels (`x`): counted, logged, passed on as a status. */
export function amendment(
  ctx: AlpacaContext,
  m: Json,
  idText: string | undefined,
  recvTs: number,
  out: MarketEvent[],
): void {
  const symbol = typeof m.S === "string" && m.S.length > 0
    ? (ctx.crypto ? normalizeSymbol(m.S) : m.S.toUpperCase())
    : "*";
  let reason: string;
  if (m.T === "c") {
    ctx.counts.corrections++;
    reason = `trade correction ${m.x ?? "?"}:${m.oi ?? "?"} ` +
      `(price ${m.op} size ${m.os}) -> ${m.x ?? "?"}:${m.ci ?? "?"} (price ${m.cp} size ${m.cs})`;
  } else {
    ctx.counts.cancels++;
    reason = `trade ${m.a === "E" ? "error" : "cancel"} ${m.x ?? "?"}:${idText ?? "?"} ` +
      `(price ${m.p} size ${m.s})`;
  }
  ctx.log({ level: "info", msg: reason, exchange: ctx.exchange, symbol });
  out.push(status(ctx, "reset", symbol, reason, recvTs));
}

/** `[{p, s}, ...]` to levels; undefined when any level is invalid. Size 0 deletes. */
function bookLevels(raw: unknown): PriceLevel[] | undefined {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const p = raw[i]?.p;
    const s = raw[i]?.s;
    if (typeof p !== "number" || typeof s !== "number" || !(p > 0) || !(s >= 0)) {
      return undefined;
    }
    out[i] = [p, s];
  }
  return out;
}

const ID_TEXT = /"i":\s*(-?[\d.eE+]+)/g;

/** The text of every `"i":` number in the frame, in order (ids beyond 2^53). */
export function idTexts(frame: string): string[] {
  const out: string[] = [];
  for (const match of frame.matchAll(ID_TEXT)) out.push(match[1]);
  return out;
}
