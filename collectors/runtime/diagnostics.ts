/**
 * Counting and logging bad input: each distinct problem is counted every time and logged
 * once, with context, as a JSON line on stderr.
 * @module
 */

/** Options for {@linkcode FeedDiagnostics}. */
export interface FeedDiagnosticsOptions {
  /** Where log lines go (default: `console.error`). */
  readonly log?: (line: string) => void;
  /** Fields added to every log line (`exchange`, `source` file, ...). */
  readonly context?: Readonly<Record<string, unknown>>;
  /** Characters of the offending input to quote in a log line (default 200). */
  readonly sampleLength?: number;
}

/**
 * Counts problems by reason (`malformed JSON`, `unknown message type: foo`, ...) and logs
 * the first occurrence of each reason with a sample of the input.
 *
 * @example
 * ```ts
 * import { FeedDiagnostics } from "./diagnostics.ts";
 * import assert from "node:assert/strict";
 * const lines: string[] = [];
 * const d = new FeedDiagnostics({ log: (l) => lines.push(l) });
 * d.error("malformed JSON", "{oops");
 * d.error("malformed JSON", "{oops again");
 * assert.equal(d.errors, 2);
 * assert.equal(lines.length, 1);
 * ```
 */
export class FeedDiagnostics {
  readonly #log: (line: string) => void;
  readonly #context: Readonly<Record<string, unknown>>;
  readonly #sampleLength: number;
  readonly #byReason = new Map<string, number>();
  /** Total problems counted. */
  errors = 0;

  constructor(options: FeedDiagnosticsOptions = {}) {
    this.#log = options.log ?? ((line) => console.error(line));
    this.#context = options.context ?? {};
    this.#sampleLength = options.sampleLength ?? 200;
  }

  /** Counts one problem; logs it if its reason is new. */
  error(reason: string, input?: string, extra?: Readonly<Record<string, unknown>>): void {
    this.errors++;
    const seen = this.#byReason.get(reason) ?? 0;
    this.#byReason.set(reason, seen + 1);
    if (seen === 0) {
      this.#log(JSON.stringify({
        level: "warn",
        msg: "bad input",
        reason,
        ...this.#context,
        ...extra,
        sample: input === undefined ? undefined : input.slice(0, this.#sampleLength),
        note: "further occurrences of this reason are counted, not logged",
      }));
    }
  }

  /** Counts per reason, most frequent first. */
  reasons(): Array<{ reason: string; count: number }> {
    return [...this.#byReason].map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count);
  }
}
