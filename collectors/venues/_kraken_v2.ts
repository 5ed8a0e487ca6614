/**
 * Kraken v2 frames (`wss://ws.kraken.com/v2`, JSON objects with number prices): method
 * acknowledgements and the `book`, `trade` and `instrument` channels.
 * @module
 */
import type { MarketEvent, PriceLevel, TakerSide } from "../../lib/market/types.ts";
import { MIN_VALID_MICROS, parseIsoMicros } from "../../lib/market/time.ts";
import { normalizeSymbol } from "../../lib/market/symbols.ts";
import type { KrakenInstrument } from "./_kraken_pairs.ts";
import { badBook, EMPTY, type Json, type KrakenParseState } from "./_kraken_state.ts";

/** A v2 method answer (`subscribe`, `unsubscribe`): errors counted, book depths noted. */
export function v2Method(
  st: KrakenParseState,
  msg: Json,
  frame: string,
): void {
  if (msg.success === false) {
    st.diagnostics.error(`${msg.method} failed: ${msg.error ?? ""}`, frame);
    return;
  }
  const result = msg.result;
  if (msg.method === "subscribe" && result?.channel === "book") {
    const depth = Number(result.depth);
    if (typeof result.symbol === "string" && depth > 0) {
      st.bookDepth.set(normalizeSymbol(result.symbol), depth);
    }
  }
}

/** A v2 channel message (`book`, `trade`, `instrument`, `heartbeat`, `status`). */
export function v2Frame(
  st: KrakenParseState,
  msg: Json,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  switch (msg.channel) {
    case "book":
      return v2Book(st, msg, frame, recvTs, out);
    case "trade":
      return v2Trades(st, msg, frame, recvTs, out);
    case "instrument":
      return v2Instruments(st, msg, frame);
    case "heartbeat":
    case "status":
      return;
    default:
      st.diagnostics.error(`unsupported v2 channel: ${String(msg.channel).slice(0, 40)}`);
  }
}

function v2Book(
  st: KrakenParseState,
  msg: Json,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const data = msg.data;
  const snapshot = msg.type === "snapshot";
  if (!Array.isArray(data) || (!snapshot && msg.type !== "update")) {
    st.diagnostics.error("invalid v2 book message", frame);
    return;
  }
  for (let k = 0; k < data.length; k++) {
    const d = data[k];
    if (typeof d?.symbol !== "string") {
      st.diagnostics.error("v2 book data without symbol", frame);
      continue;
    }
    const symbol = normalizeSymbol(d.symbol);
    const bids = v2Levels(d.bids ?? EMPTY);
    const asks = v2Levels(d.asks ?? EMPTY);
    const checksum = d.checksum;
    if (
      bids === undefined || asks === undefined ||
      (checksum !== undefined && !(Number.isInteger(checksum) && checksum >= 0))
    ) {
      badBook(st, symbol, "invalid v2 book data", frame, recvTs, out);
      continue;
    }
    const venueTs = typeof d.timestamp === "string" ? parseIsoMicros(d.timestamp) : NaN;
    const ts = venueTs >= MIN_VALID_MICROS ? venueTs : recvTs;
    if (snapshot) {
      const known = st.instruments.get(symbol) ??
        (data.length === 1 ? textInstrument(frame) : undefined);
      out.push({
        kind: "book_snapshot",
        exchange: st.exchange,
        symbol,
        ts,
        recvTs,
        bids,
        asks,
        depth: st.bookDepth.get(symbol) ?? st.depth,
        ...(known ? known : {}),
        ...(checksum === undefined ? {} : { checksum }),
      });
    } else {
      out.push({
        kind: "book_change",
        exchange: st.exchange,
        symbol,
        ts,
        recvTs,
        bids,
        asks,
        ...(checksum === undefined ? {} : { checksum }),
      });
    }
  }
}

function v2Trades(
  st: KrakenParseState,
  msg: Json,
  frame: string,
  recvTs: number,
  out: MarketEvent[],
): void {
  const data = msg.data;
  if (!Array.isArray(data)) {
    st.diagnostics.error("invalid v2 trade message", frame);
    return;
  }
  for (let k = 0; k < data.length; k++) {
    const t = data[k];
    const ts = typeof t?.timestamp === "string" ? parseIsoMicros(t.timestamp) : NaN;
    if (
      typeof t?.symbol !== "string" || !(t.price > 0) || !(t.qty > 0) ||
      !(ts >= MIN_VALID_MICROS) || t.trade_id === undefined
    ) {
      st.diagnostics.error("invalid v2 trade", frame);
      continue;
    }
    out.push({
      kind: "trade",
      exchange: st.exchange,
      symbol: normalizeSymbol(t.symbol),
      ts,
      recvTs,
      id: String(t.trade_id),
      price: t.price,
      size: t.qty,
      side: takerSide(t.side),
    });
  }
}

function v2Instruments(
  st: KrakenParseState,
  msg: Json,
  frame: string,
): void {
  const pairs = msg.data?.pairs;
  if (!Array.isArray(pairs)) {
    st.diagnostics.error("invalid v2 instrument message", frame);
    return;
  }
  for (const p of pairs) {
    if (
      typeof p?.symbol === "string" && Number.isInteger(p.price_precision) &&
      Number.isInteger(p.qty_precision)
    ) {
      st.instruments.set(normalizeSymbol(p.symbol), {
        priceDecimals: p.price_precision,
        sizeDecimals: p.qty_precision,
      });
    }
  }
}

/** v2 levels `{price, qty}` (JSON numbers). */
function v2Levels(raw: unknown): PriceLevel[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: PriceLevel[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const price = raw[i]?.price;
    const size = raw[i]?.qty;
    if (!(typeof price === "number" && price > 0) || !(typeof size === "number" && size >= 0)) {
      return undefined;
    }
    out[i] = [price, size];
  }
  return out;
}

const V2_NUMBER = /"(price|qty)":\s*-?\d+(?:\.(\d+))?/g;

/** Precision read from the number text of a v2 snapshot frame (trailing zeros kept). */
function textInstrument(frame: string): KrakenInstrument | undefined {
  let price = -1;
  let size = -1;
  for (const m of frame.matchAll(V2_NUMBER)) {
    const d = m[2]?.length ?? 0;
    if (m[1] === "price") price = Math.max(price, d);
    else size = Math.max(size, d);
  }
  return price < 0 || size < 0 ? undefined : { priceDecimals: price, sizeDecimals: size };
}

function takerSide(side: unknown): TakerSide {
  return side === "buy" ? "buy" : side === "sell" ? "sell" : "unknown";
}
