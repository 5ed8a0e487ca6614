/**
 * A sink that behaves like a consumer keeping its own books from the events it is given,
 * and records every time it would have held a crossed book as valid or been handed a
 * change for a book it had been told to drop. It buffers like a durable sink (`pending`),
 * so it sits behind the collector's bounded queue.
 * @module
 */
import type { EventSink, FeedStatus, MarketEvent, Trade } from "../../lib/market/mod.ts";
import { ReferenceBook } from "./reference_book.ts";

/** The consumer's view of one symbol. */
interface ConsumerBook {
  readonly book: ReferenceBook;
  valid: boolean;
}

/** A consumer that checks what it is handed. */
export class CheckingSink implements EventSink {
  readonly trades: Trade[] = [];
  readonly statuses: FeedStatus[] = [];
  readonly books = new Map<string, ConsumerBook>();
  /** What a consumer should never have seen. */
  readonly violations: string[] = [];
  /** Events written and not yet flushed. */
  pending = 0;
  /** Book events applied to a valid book. */
  applied = 0;
  flushes = 0;

  write(events: readonly MarketEvent[]): void {
    this.pending += events.length;
    for (const e of events) {
      switch (e.kind) {
        case "trade":
          this.trades.push(e);
          break;
        case "book_snapshot": {
          const book = new ReferenceBook();
          for (const [p, s] of e.bids) book.set("bid", String(p), String(s));
          for (const [p, s] of e.asks) book.set("ask", String(p), String(s));
          this.books.set(e.symbol, { book, valid: true });
          this.applied++;
          break;
        }
        case "book_change": {
          const state = this.books.get(e.symbol);
          if (state === undefined || !state.valid) {
            this.violations.push(`change for ${e.symbol} while its book was invalid`);
            break;
          }
          for (const [p, s] of e.bids) state.book.set("bid", String(p), String(s));
          for (const [p, s] of e.asks) state.book.set("ask", String(p), String(s));
          this.applied++;
          break;
        }
        case "status":
          this.statuses.push(e);
          if (e.status === "reset" || e.status === "disconnected") {
            for (const [symbol, state] of this.books) {
              if (e.symbol === "*" || e.symbol === symbol) state.valid = false;
            }
          }
          break;
      }
    }
    // After each batch (one frame), every book the consumer holds as valid must be sane.
    for (const [symbol, state] of this.books) {
      if (state.valid && state.book.crossed) {
        this.violations.push(`${symbol}: crossed book held as valid`);
      }
    }
  }

  flush(): Promise<number> {
    const n = this.pending;
    this.pending = 0;
    this.flushes++;
    return Promise.resolve(n);
  }

  close(): Promise<void> {
    return this.flush().then(() => {});
  }
}

/** Parses a Prometheus exposition into `name{labels}` -> value. */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.length === 0 || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** Polls `condition` every 10 ms until it holds; throws after `limitMs`. */
export async function until(
  condition: () => boolean,
  what: string,
  limitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until `value()` stays the same over `quietMs` (the feed has drained). */
export async function settled(value: () => number, quietMs = 200, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  let last = value();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error("feed did not settle");
    await new Promise((r) => setTimeout(r, 20));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    }
  }
}
