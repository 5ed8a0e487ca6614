/**
 * Recorded-session formats, chosen by file name (or explicitly).
 * @module
 */
import type { RecordingItem } from "./frame.ts";
import type { ReadLinesOptions } from "./_lines.ts";
import { readCryptofeedText } from "./cryptofeed_text.ts";
import { readHftbacktest } from "./hftbacktest.ts";
import { readRecording } from "./recording.ts";
import { readCryptofeedJsonl } from "./cryptofeed_jsonl.ts";

/** A recording format reader. */
export interface RecordingFormat {
  /** Name for `--format`. */
  readonly name: string;
  /** True when this reader recognises the file by its name. */
  matches(path: string): boolean;
  /** Reads the file's frames in order. */
  read(path: string, options: ReadLinesOptions): AsyncIterable<RecordingItem>;
}

/** Known formats, most specific first; the last one is the fallback. */
export const RECORDING_FORMATS: RecordingFormat[] = [
  {
    name: "alphapulse",
    matches: (path) => /\.jsonl\.gz$/i.test(path),
    read: readRecording,
  },
  {
    name: "cryptofeed-jsonl",
    matches: (path) => /\.jsonl(\.zst)?$/i.test(path),
    read: readCryptofeedJsonl,
  },
  {
    name: "hftbacktest",
    matches: (path) => /\.gz$/i.test(path),
    read: readHftbacktest,
  },
  {
    name: "cryptofeed-text",
    matches: (path) => /\.txt$/i.test(path),
    read: readCryptofeedText,
  },
];

/** The known formats with the file names each is chosen for, for messages. */
export function formatNames(): string {
  return "alphapulse (*.jsonl.gz), cryptofeed-jsonl (*.jsonl, *.jsonl.zst), " +
    "hftbacktest (*.gz), cryptofeed-text (*.txt and any other name)";
}

/**
 * Picks the reader for a file.
 * @throws {RangeError} when `format` names no known format.
 */
export function formatFor(path: string, format?: string): RecordingFormat {
  if (format !== undefined) {
    const named = RECORDING_FORMATS.find((f) => f.name === format);
    if (named === undefined) {
      throw new RangeError(
        `unknown format "${format}": expected one of ${
          RECORDING_FORMATS.map((f) => f.name).join(", ")
        }`,
      );
    }
    return named;
  }
  return RECORDING_FORMATS.find((f) => f.matches(path)) ??
    RECORDING_FORMATS[RECORDING_FORMATS.length - 1];
}

/**
 * Expands directories to the recording files they hold (any known format, complete files
 * only: `.tmp` files are being written), sorted by name, which for our recordings is time
 * order. Other paths pass through unchanged, in the order given.
 */
export async function expandRecordingPaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    if (!(await Deno.stat(path)).isDirectory) {
      out.push(path);
      continue;
    }
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) {
      if (
        entry.isFile && !entry.name.endsWith(".tmp") &&
        RECORDING_FORMATS.some((f) => f.matches(entry.name))
      ) {
        names.push(entry.name);
      }
    }
    names.sort();
    for (const name of names) out.push(`${path.replace(/\/+$/, "")}/${name}`);
  }
  return out;
}
