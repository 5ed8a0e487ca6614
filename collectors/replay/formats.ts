/**
 * Recorded-session formats, chosen by file name (or explicitly).
 * @module
 */
import type { RecordingItem } from "./frame.ts";
import type { ReadLinesOptions } from "./_lines.ts";
import { readCryptofeedText } from "./cryptofeed_text.ts";
import { readHftbacktest } from "./hftbacktest.ts";

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
