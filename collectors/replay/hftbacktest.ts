/**
 * hftbacktest's raw Binance capture format (`shared/data/binance-*.gz`, gzip): one line per
 * received message, `LOCAL_TS_NS {json}`, where the JSON is a combined-stream message
 * (`{"stream": ..., "data": {...}}`) or, once per book sync, the REST depth snapshot
 * (`{"lastUpdateId": ..., "bids": [...], "asks": [...]}`).
 *
 * Every line is yielded as a `recv` frame in file order, the REST snapshot included: the
 * Binance adapter recognises the snapshot and performs the book sync, exactly as it does
 * when the live collector hands it the REST answer.
 * @module
 */
import type { RecordingItem } from "./frame.ts";
import { readLines, type ReadLinesOptions } from "./_lines.ts";

/** Parses one line of the format; `undefined` for blank lines. */
export function parseHftbacktestLine(line: string, lineNo: number): RecordingItem | undefined {
  if (line.length === 0) return undefined;
  const space = line.indexOf(" ");
  // Nanoseconds exceed 2^53: drop the last three digits as text to get exact microseconds.
  const nanos = space > 3 ? line.slice(0, space) : "";
  const recvTs = /^\d+$/.test(nanos) ? Number(nanos.slice(0, -3)) : NaN;
  if (!Number.isSafeInteger(recvTs) || line.charCodeAt(space + 1) !== 123 /* { */) {
    return { kind: "unreadable", line: lineNo, text: line, reason: "not an hftbacktest line" };
  }
  return { kind: "recv", recvTs, data: line.slice(space + 1) };
}

/** Reads an hftbacktest capture (gzip by the `.gz` extension). */
export async function* readHftbacktest(
  path: string,
  options: ReadLinesOptions = {},
): AsyncGenerator<RecordingItem> {
  let n = 0;
  for await (const line of readLines(path, options)) {
    const item = parseHftbacktestLine(line, ++n);
    if (item !== undefined) yield item;
  }
}
