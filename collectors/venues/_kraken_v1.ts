/**
 * Kraken's legacy v1 frames (`wss://ws.kraken.com`, arrays with string prices, as in the
 * recorded sessions): events, `book-N` snapshots and updates, and `trade`.
 * @module
 */
import type { BookChange, MarketEvent, PriceLevel } from "../../lib/market/types.ts";
import { parseDecimal } from "../../lib/market/decimal.ts";
import { MIN_VALID_MICROS, secondsToMicros } from "../../lib/market/time.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import { badBook, EMPTY, type Json, type KrakenParseState } from "./_kraken_state.ts";

/** A v1 event object (`heartbeat`, `subscriptionStatus`, `error`, ...). */
export function v1Event(
  st: KrakenParseState,
  msg: Json,
  frame: string,
): void {
  switch (msg.event) {
    case "heartbeat":
    case "systemStatus":
    case "pong":
      return;
    case "subscriptionStatus":
      if (msg.status === "error") {
        st.diagnostics.error(`subscription error: ${msg.errorMessage ?? ""}`, frame);
      }
      return;
    case "error":
      st.diagnostics.error(`venue error: ${msg.errorMessage ?? ""}`, frame);
      return;
    default:
      st.diagnostics.error(`unknown event: ${String(msg.event).slice(0, 40)}`, frame);
  }
}

/** A v1 channel message `[channelID, payload..., channelName, pair]`. */
export function v1Frame(
  st: KrakenParseState,
  msg: Json[],
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const n = msg.length;
  const channel = msg[n - 2];
  const pair = msg[n - 1];
  if (n < 4 || typeof channel !== "string" || typeof pair !== "string") {
    st.diagnostics.error("v1 message without channel name and pair", frame);
    return;
  }
  const symbol = normalizeSymbol(pair);
  if (channel.startsWith("book")) {
    return v1Book(st, msg, n - 2, channel, symbol, frame, recvTs, out);
  }
  if (channel === "trade") return v1Trades(st, msg[1], symbol, frame, recvTs, out);
  st.diagnostics.error(`unsupported v1 channel: ${channel.slice(0, 40)}`, frame);
}

function v1Book(
  st: KrakenParseState,
  msg: Json[],
  payloadEnd: number,
  channel: string,
  symbol: string,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const first = msg[1];
  if (first === null || typeof first !== "object") {
    return badBook(st, symbol, "v1 book payload is not an object", frame, recvTs, out);
  }
  const ts = { max: 0 };
  if (first.as !== undefined || first.bs !== undefined) {
    const asks = v1Levels(first.as ?? [], ts);
    const bids = v1Levels(first.bs ?? [], ts);
    if (asks === undefined || bids === undefined) {
      return badBook(st, symbol, "invalid v1 snapshot level", frame, recvTs, out);
    }
    const depth = Number(channel.slice(5)) || undefined;
    if (depth !== undefined) st.bookDepth.set(symbol, depth);
    const known = st.instruments.get(symbol);
    const checksum = first.c === undefined ? undefined : Number(first.c);
    out.push({
      kind: "book_snapshot",
      exchange: st.exchange,
      symbol,
      ts: ts.max > 0 ? ts.max : recvTs,
      recvTs,
      bids,
      asks,
      depth,
      // v1 text has the pair's full precision: it is the authority.
      priceDecimals: textDecimals(first.as, first.bs, 0) ?? known?.priceDecimals,
      sizeDecimals: textDecimals(first.as, first.bs, 1) ?? known?.sizeDecimals,
      ...(checksum === undefined ? {} : { checksum }),
    });
    return;
  }
  // An update: one object with "a" and/or "b", or two objects (asks, then bids); the
  // checksum "c" is on the last one.
  let bids: PriceLevel[] = EMPTY;
  let asks: PriceLevel[] = EMPTY;
  let checksumText: unknown;
  for (let k = 1; k < payloadEnd; k++) {
    const part = msg[k];
    if (part === null || typeof part !== "object") {
      return badBook(st, symbol, "v1 book payload is not an object", frame, recvTs, out);
    }
    if (part.a !== undefined) {
      const levels = v1Levels(part.a, ts);
      if (levels === undefined) {
        return badBook(st, symbol, "invalid v1 update level", frame, recvTs, out);
      }
      asks = asks === EMPTY ? levels : asks.concat(levels);
    }
    if (part.b !== undefined) {
      const levels = v1Levels(part.b, ts);
      if (levels === undefined) {
        return badBook(st, symbol, "invalid v1 update level", frame, recvTs, out);
      }
      bids = bids === EMPTY ? levels : bids.concat(levels);
    }
    if (part.c !== undefined) checksumText = part.c;
  }
  const event: BookChange = {
    kind: "book_change",
    exchange: st.exchange,
    symbol,
    ts: ts.max > 0 ? ts.max : recvTs,
    recvTs,
    bids,
    asks,
  };
  if (checksumText !== undefined) {
    const checksum = Number(checksumText);
    if (!Number.isInteger(checksum) || checksum < 0) {
      return badBook(st, symbol, "invalid v1 checksum", frame, recvTs, out);
    }
    (event as { checksum?: number }).checksum = checksum;
  }
  out.push(event);
}

function v1Trades(
  st: KrakenParseState,
  trades: Json,
  symbol: string,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
) {
  if (!Array.isArray(trades)) {
    st.diagnostics.error("v1 trade payload is not an array", frame);
    return;
  }
  for (let i = 0; i < trades.length; i++) {
    const t = trades[i];
    const price = parseDecimal(t?.[0]);
    const size = parseDecimal(t?.[1]);
    const ts = typeof t?.[2] === "string" ? secondsToMicros(Number(t[2])) : NaN;
    if (!(price > 0) || !(size > 0) || !(ts >= MIN_VALID_MICROS)) {
      st.diagnostics.error("invalid v1 trade", frame);
      continue;
    }
    out.push({
      kind: "trade",
      exchange: st.exchange,
      symbol,
      ts,
      recvTs,
      // v1 trades carry no id: a stable synthetic one (venue time text and position).
      id: `${t[2]}-${i}`,
      price,
      size,
      side: t[3] === "b" ? "buy" : t[3] === "s" ? "sell" : "unknown",
    });
  }
}

/** v1 levels `[price, volume, timestamp, ("r")]`; tracks the latest level timestamp. */
function v1Levels(raw: unknown, ts: { max: number }): PriceLevel[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i];
    const price = parseDecimal(l?.[0]);
    const size = parseDecimal(l?.[1]);
    if (!(price > 0) || !(size >= 0)) return undefined;
    out[i] = [price, size];
    const t = l[2];
    if (typeof t === "string") {
      const micros = secondsToMicros(+t);
      if (micros > ts.max) ts.max = micros;
    }
  }
  return out;
}

/** Most digits after the point among the texts at `index` of v1 snapshot levels. */
function textDecimals(asks: unknown, bids: unknown, index: number): number | undefined {
  let max = -1;
  for (const side of [asks, bids]) {
    if (!Array.isArray(side)) continue;
    for (const level of side) {
      const text = level?.[index];
      if (typeof text !== "string") continue;
      const dot = text.indexOf(".");
      const d = dot < 0 ? 0 : text.length - dot - 1;
      if (d > max) max = d;
    }
  }
  return max < 0 ? undefined : max;
}
