/**
 * An {@linkcode EventSink} that stores trades in the Parquet lake.
 * @module
 */
import type { EventSink } from "../market/sink.ts";
import type { MarketEvent, Trade } from "../market/types.ts";
import { ParquetLake, type ParquetLakeOptions } from "./parquet_lake.ts";

/** Options of {@linkcode LakeSink}. */
export interface LakeSinkOptions {
  /** Close the lake when the sink closes (default `false`; `LakeSink.open` sets it). */
  readonly closeLake?: boolean;
}

/**
 * Buffers the trades it is given and writes them to a {@linkcode ParquetLake} on `flush`.
 * Only trades are stored for now: book snapshots, book changes, quotes, bars and status
 * events are ignored (counted in {@linkcode LakeSink.ignored}); the lake has no layout for
 * them yet. A failed flush keeps its trades buffered for the next one (the lake's writes
 * are idempotent, so a retry never duplicates rows).
 *
 * @example
 * ```ts ignore
 * import { LakeSink } from "./lake_sink.ts";
 * const sink = await LakeSink.open({ root: "data/lake" });
 * sink.write(events);
 * const stored = await sink.flush();
 * await sink.close();
 * ```
 */
export class LakeSink implements EventSink {
  /** The lake written to. */
  readonly lake: ParquetLake;
  readonly #closeLake: boolean;
  #buffer: Trade[] = [];
  #ignored = 0;
  #closed = false;

  constructor(lake: ParquetLake, options: LakeSinkOptions = {}) {
    this.lake = lake;
    this.#closeLake = options.closeLake ?? false;
  }

  /** Opens a lake at `options.root` and a sink that owns (and closes) it. */
  static async open(options: ParquetLakeOptions): Promise<LakeSink> {
    return new LakeSink(await ParquetLake.open(options), { closeLake: true });
  }

  /** Trades buffered and not yet flushed. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Non-trade events dropped so far. */
  get ignored(): number {
    return this.#ignored;
  }

  /** Buffers the trades among `events`; other kinds are ignored. */
  write(events: readonly MarketEvent[]): void {
    if (this.#closed) throw new Error("LakeSink is closed");
    for (const e of events) {
      if (e.kind === "trade") this.#buffer.push(e);
      else this.#ignored++;
    }
  }

  /** Writes the buffered trades; resolves to the rows newly stored by this call. */
  async flush(): Promise<number> {
    if (this.#buffer.length === 0) return 0;
    const batch = this.#buffer;
    this.#buffer = [];
    try {
      return await this.lake.writeTrades(batch);
    } catch (err) {
      this.#buffer = batch.concat(this.#buffer);
      throw err;
    }
  }

  /** Flushes, then closes the lake if this sink owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#closeLake) await this.lake.close();
  }
}
