/**
 * Bar events (`kind: "bar"`) into the lake's `bars` table: validated by the schema's rules,
 * grouped by instrument and stored through `bar_store.ts` (the one write path of bars,
 * `year=` partitions, newest bar wins).
 * @module
 */
import type { Bar } from "../market/types.ts";
import { eventRejection, type Rejection } from "../schema/rules.ts";
import { type StoredBar, writeBars } from "./bar_store.ts";

/** What {@linkcode storeBarEvents} did. */
export interface BarEventsWritten {
  /** Bars whose key was not stored before. */
  readonly written: number;
  /** Bars that replaced a stored bar, or a bar earlier in the same batch, with the same key. */
  readonly duplicates: number;
}

/**
 * Stores valid `bars` in the lake at `root` (the caller holds the writer lock); invalid ones
 * go to `reject` and are not written. Within the batch the last bar of a key wins, as
 * against the stored bars. All-or-nothing per instrument.
 */
export async function storeBarEvents(
  root: string,
  bars: readonly Bar[],
  latest: number,
  reject: (bar: Bar, reason: Rejection) => void,
): Promise<BarEventsWritten> {
  const byInstrument = new Map<string, Map<string, StoredBar>>();
  const names = new Map<string, readonly [string, string]>();
  let duplicates = 0;
  for (const b of bars) {
    const reason = b?.kind === "bar" ? eventRejection(b, latest) : "kind";
    if (reason !== undefined) {
      reject(b, reason);
      continue;
    }
    const name = JSON.stringify([b.exchange, b.symbol]);
    let keyed = byInstrument.get(name);
    if (keyed === undefined) {
      keyed = new Map();
      byInstrument.set(name, keyed);
      names.set(name, [b.exchange, b.symbol]);
    }
    const key = `${b.interval}/${b.ts}`;
    if (keyed.has(key)) {
      duplicates++;
      keyed.delete(key); // re-inserted below: the last one wins
    }
    keyed.set(key, {
      ts: b.ts,
      recvTs: b.recvTs,
      intervalUs: b.interval,
      open: b.open,
      high: b.high,
      low: b.low,
      close: b.close,
      volume: b.volume,
      vwap: b.vwap,
      trades: b.trades,
    });
  }
  let written = 0;
  for (const [name, keyed] of byInstrument) {
    const [exchange, symbol] = names.get(name)!;
    const report = await writeBars(root, { exchange, symbol, bars: [...keyed.values()] });
    written += report.added;
    duplicates += report.replaced;
  }
  return { written, duplicates };
}
