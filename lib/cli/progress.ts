/**
 * A one-line progress display for long work, drawn only when stderr is a terminal.
 * @module
 */

/** Options for {@linkcode ProgressLine}. */
export interface ProgressLineOptions {
  /** Draw even when stderr is not a terminal (tests). */
  readonly force?: boolean;
  /** Where to draw (default: stderr). */
  readonly write?: (text: string) => void;
}

/**
 * Redraws one status line in place (`\r`), e.g. `replay 45% 1.2 MB/2.6 MB 9,946 msgs`.
 *
 * @example
 * ```ts
 * import { ProgressLine } from "./progress.ts";
 * const progress = new ProgressLine();
 * progress.update(0.5, "halfway");
 * progress.done();
 * ```
 */
export class ProgressLine {
  readonly #enabled: boolean;
  readonly #write: (text: string) => void;
  #drawn = false;

  constructor(options: ProgressLineOptions = {}) {
    this.#enabled = options.force ?? Deno.stderr.isTerminal();
    const encoder = new TextEncoder();
    this.#write = options.write ?? ((text) => Deno.stderr.writeSync(encoder.encode(text)));
  }

  /** Draws a bar for `fraction` (0..1) followed by `label`. */
  update(fraction: number, label: string): void {
    if (!this.#enabled) return;
    const f = Math.max(0, Math.min(1, fraction));
    const width = 24;
    const full = Math.round(f * width);
    const bar = "#".repeat(full) + "-".repeat(width - full);
    const columns = 100;
    const line = `[${bar}] ${(f * 100).toFixed(0).padStart(3)}% ${label}`.slice(0, columns);
    this.#write(`\r${line.padEnd(columns)}`);
    this.#drawn = true;
  }

  /** Ends the line so later output starts on a fresh one. */
  done(): void {
    if (this.#drawn) this.#write("\n");
    this.#drawn = false;
  }
}

/** Formats a byte count (`1.5 MB`). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
