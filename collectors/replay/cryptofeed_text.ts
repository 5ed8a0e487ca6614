/**
 * cryptofeed's raw text capture format (`shared/data/*.txt`), one line each:
 *
 * - `wss://HOST <-> EPOCH` : connection opened
 * - `wss://HOST <- EPOCH: {json}` : a message the client sent
 * - `EPOCH: {json}` : a message received, EPOCH = local receive time in seconds (float)
 * - `https://URL -> EPOCH: {json}` : a REST answer
 * @module
 */
import { secondsToMicros } from "../../lib/market/time.ts";
import type { RecordingItem } from "./frame.ts";
import { readLines, type ReadLinesOptions } from "./_lines.ts";

const CONNECT = /^(\S+) <-> (\d+(?:\.\d+)?)$/;
const SEND = /^(\S+) <- (\d+(?:\.\d+)?): /;
const REST = /^(https?:\/\/\S+) -> (\d+(?:\.\d+)?): /;

/** Parses one line of the format; `undefined` for blank lines. */
export function parseCryptofeedTextLine(line: string, lineNo: number): RecordingItem | undefined {
  if (line.length === 0) return undefined;
  const c0 = line.charCodeAt(0);
  if (c0 >= 48 && c0 <= 57) {
    // EPOCH: {json}: the hot path, no regex.
    const colon = line.indexOf(": ");
    const seconds = colon > 0 ? Number(line.slice(0, colon)) : NaN;
    if (!Number.isFinite(seconds)) {
      return { kind: "unreadable", line: lineNo, text: line, reason: "bad receive time" };
    }
    return { kind: "recv", recvTs: secondsToMicros(seconds), data: line.slice(colon + 2) };
  }
  let m = CONNECT.exec(line);
  if (m) {
    return { kind: "connect", recvTs: secondsToMicros(Number(m[2])), data: m[1], source: m[1] };
  }
  m = REST.exec(line);
  if (m) {
    return {
      kind: "rest",
      recvTs: secondsToMicros(Number(m[2])),
      data: line.slice(m[0].length),
      source: m[1],
    };
  }
  m = SEND.exec(line);
  if (m) {
    return {
      kind: "send",
      recvTs: secondsToMicros(Number(m[2])),
      data: line.slice(m[0].length),
      source: m[1],
    };
  }
  return { kind: "unreadable", line: lineNo, text: line, reason: "not a cryptofeed capture line" };
}

/** Reads a cryptofeed text capture. */
export async function* readCryptofeedText(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<RecordingItem> {
  let n = 0;
  for await (const line of readLines(path, options)) {
    const item = parseCryptofeedTextLine(line, ++n);
    if (item !== undefined) yield item;
  }
}
