/**
 * Reads the recorded sessions in `../shared/data/` for tests, benchmarks and fake servers:
 * just the received frames with their local receive times, nothing interpreted.
 * @module
 */
import { gunzipSync } from "node:zlib";

/** Where the shared recorded data lives, relative to the project root. */
export const SHARED_DATA = new URL("../../../shared/data/", import.meta.url);

/** One received frame of a recording. */
export interface RecordedFrame {
  /** Local receive time, seconds since the epoch (fractional). */
  readonly time: number;
  /** The frame text. */
  readonly text: string;
}

/** The received frames of a cryptofeed text capture (`EPOCH: {json}` lines). */
export async function readCaptureFrames(name: string): Promise<RecordedFrame[]> {
  const text = await Deno.readTextFile(new URL(name, SHARED_DATA));
  const out: RecordedFrame[] = [];
  for (const line of text.split("\n")) {
    if (line.length === 0 || line.startsWith("wss://") || line.startsWith("https://")) continue;
    const colon = line.indexOf(": ");
    if (colon < 0) continue;
    out.push({ time: Number(line.slice(0, colon)), text: line.slice(colon + 2) });
  }
  return out;
}

/** The frames of an hftbacktest gzip capture (`LOCAL_TS_NS {json}` lines). */
export async function readHftbacktestFrames(name: string): Promise<RecordedFrame[]> {
  const bytes = gunzipSync(await Deno.readFile(new URL(name, SHARED_DATA)));
  const out: RecordedFrame[] = [];
  for (const line of new TextDecoder().decode(bytes).split("\n")) {
    const space = line.indexOf(" ");
    if (space < 0) continue;
    out.push({ time: Number(line.slice(0, space)) / 1e9, text: line.slice(space + 1) });
  }
  return out;
}
