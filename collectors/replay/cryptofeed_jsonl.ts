/**
 * cryptofeed's JSON-lines capture format (branch `v3`, `*.jsonl.zst`, zstd; plain `.jsonl`
 * too), one object per line with `t`:
 *
 * - `header`: format version and feed config (skipped);
 * - `http`: a REST answer, `url` and `data`;
 * - `connect`: a websocket connection `conn` opened to `addr`;
 * - `send`: a frame we sent on `conn`;
 * - `recv`: a frame received on `conn`, `ts` = local receive time in epoch seconds.
 *
 * Several connections of one feed (trades, ticker, book) are interleaved in one file; their
 * frames all go through the same adapter. Only the first connection's `connect` and a later
 * `connect` of an already seen `conn` (a real reconnect) are yielded as `connect` items: the
 * first `connect` of each further `conn` opens a parallel connection, not a reconnect, so it
 * must not make replay drop the other connections' state. (A reconnect of any connection
 * still resets the whole pipeline, books included.)
 * @module
 */
import { secondsToMicros } from "../../lib/market/time.ts";
import type { RecordingItem } from "./frame.ts";
import { readLines, type ReadLinesOptions } from "./_lines.ts";

/**
 * Parses lines of the format in order, keeping the connection bookkeeping described in the
 * module documentation.
 *
 * @example
 * ```ts
 * import { CryptofeedJsonlParser } from "./cryptofeed_jsonl.ts";
 * import assert from "node:assert/strict";
 * const parser = new CryptofeedJsonlParser();
 * const item = parser.parse('{"t":"recv","conn":"KRAKEN.ws.48","ts":1618678132.5,"data":"[1]"}', 1);
 * assert.deepEqual(item, { kind: "recv", recvTs: 1618678132500000, data: "[1]", source: "KRAKEN.ws.48" });
 * ```
 */
export class CryptofeedJsonlParser {
  readonly #connections = new Set<string>();

  /** One line to an item; `undefined` for blank, header and parallel-connect lines. */
  parse(line: string, lineNo: number): RecordingItem | undefined {
    if (line.length === 0) return undefined;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch {
      return { kind: "unreadable", line: lineNo, text: line, reason: "malformed JSON line" };
    }
    if (o === null || typeof o !== "object") {
      return { kind: "unreadable", line: lineNo, text: line, reason: "line is not an object" };
    }
    const ts = o.ts;
    const recvTs = typeof ts === "number" && ts > 0 ? secondsToMicros(ts) : NaN;
    const conn = typeof o.conn === "string" ? o.conn : undefined;
    if (o.t === "header") return undefined;
    if (Number.isNaN(recvTs)) {
      return { kind: "unreadable", line: lineNo, text: line, reason: "missing receive time" };
    }
    switch (o.t) {
      case "recv":
        if (typeof o.data !== "string") break;
        return { kind: "recv", recvTs, data: o.data, source: conn };
      case "send":
        if (typeof o.data !== "string") break;
        return { kind: "send", recvTs, data: o.data, source: str(o.addr) ?? conn };
      case "http":
        if (typeof o.data !== "string") break;
        return { kind: "rest", recvTs, data: o.data, source: str(o.url) ?? conn };
      case "connect": {
        const addr = str(o.addr) ?? conn ?? "";
        const key = conn ?? addr;
        const seen = this.#connections.has(key);
        const first = this.#connections.size === 0;
        this.#connections.add(key);
        return seen || first ? { kind: "connect", recvTs, data: addr, source: addr } : undefined;
      }
    }
    return {
      kind: "unreadable",
      line: lineNo,
      text: line,
      reason: `not a cryptofeed JSONL line (t=${String(o.t).slice(0, 20)})`,
    };
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Reads a cryptofeed JSONL capture (zstd by the `.zst` extension). */
export async function* readCryptofeedJsonl(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<RecordingItem> {
  const parser = new CryptofeedJsonlParser();
  let n = 0;
  for await (const line of readLines(path, options)) {
    const item = parser.parse(line, ++n);
    if (item !== undefined) yield item;
  }
}
