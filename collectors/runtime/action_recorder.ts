/**
 * A collector's actions in the action log (issue 11): the run's configuration when it
 * starts (`start`: venue, symbols, channels, URL, store) and every reset and disconnect of
 * the feed (`reset`, from the pipeline's feed statuses), as one hash-chained {@linkcode ActionLog} stored through the `actions` table of whichever store
 * the feed writes (the lake's `writeActions`, or the PostgreSQL writer's). A configuration
 * change shows as the difference between the `start` entries of two runs of a venue
 * (`listBufferRuns` / the repositories' `actionLog`).
 *
 * It is an {@linkcode EventSink} placed before the store's sink: it watches the events that
 * pass, and its `flush` hands the entries not yet stored to the store, so they are made
 * durable, and counted in the feed's `rows_written`, with the rest of the feed (the lake's
 * rows by this flush, the writer's by its own). There is no `stop` entry: the last flush
 * happens before the sinks are told to close, and every stored row is counted.
 *
 * @example
 * ```ts ignore
 * import { ActionRecorder } from "./action_recorder.ts";
 * const actions = new ActionRecorder({ exchange: "coinbase", config: { symbols }, store: lake });
 * const sinks = [actions, new LakeSink(lake)];
 * ```
 * @module
 */
import type { EventSink, MarketEvent } from "../../lib/market/mod.ts";
import { nowMicros } from "../../lib/market/time.ts";
import { ActionLog } from "../../lib/backtest/action_log.ts";
import { type ActionRow, actionRows } from "../../lib/schema/action_rows.ts";

/**
 * Where action rows are stored: a `ParquetLake` (resolves to the rows written) or a
 * `PostgresWriter` (queues them for its next flush).
 */
export interface ActionStore {
  writeActions(rows: readonly ActionRow[]): Promise<number> | void;
}

/** Options for {@linkcode ActionRecorder}. */
export interface ActionRecorderOptions {
  /** The venue (the log's `source`). */
  readonly exchange: string;
  /** The run's configuration, logged in the `start` entry. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The store of the rows. */
  readonly store: ActionStore;
  /** The run's id (default `collect-<start time, µs>`). */
  readonly run?: string;
  /** Clock, microseconds (default: the wall clock). */
  readonly now?: () => number;
}

/** Feed statuses logged as collector resets. */
const RESETS: ReadonlySet<string> = new Set(["reset", "disconnected"]);

/** Records a collector's start and resets in an action log (module documentation). */
export class ActionRecorder implements EventSink {
  /** The run's name in the stores. */
  readonly source: string;
  readonly run: string;
  readonly log = new ActionLog();
  readonly #store: ActionStore;
  readonly #now: () => number;
  /** Entries handed to the store so far. */
  #stored = 0;

  constructor(options: ActionRecorderOptions) {
    if (!options?.store || typeof options.store.writeActions !== "function") {
      throw new TypeError("ActionRecorder needs a store with writeActions");
    }
    this.#store = options.store;
    this.#now = options.now ?? nowMicros;
    const start = this.#now();
    this.source = options.exchange;
    this.run = options.run ?? `collect-${start}`;
    this.log.append(start, "start", { exchange: options.exchange, ...options.config });
  }

  /** Logs every reset and disconnect among `events`. */
  write(events: readonly MarketEvent[]): void {
    for (const e of events) {
      if (e.kind !== "status" || !RESETS.has(e.status)) continue;
      this.log.append(e.recvTs, "reset", {
        symbol: e.symbol,
        status: e.status,
        reason: e.reason,
        ts: e.ts,
      });
    }
  }

  /** Hands the entries not yet stored to the store; resolves to the rows it wrote. */
  async flush(): Promise<number> {
    const lines = this.log.lines();
    if (lines.length === this.#stored) return 0;
    const rows = actionRows(lines.slice(this.#stored), { source: this.source, run: this.run });
    const written = await this.#store.writeActions(rows);
    this.#stored = lines.length;
    return typeof written === "number" ? written : 0;
  }

  /** Stores what is left (normally nothing: the pipeline flushes before it closes). */
  async close(): Promise<void> {
    await this.flush();
  }
}
