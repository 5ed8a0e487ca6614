/**
 * `assembleFeed`: the one place where a program's feed is put together: the store chosen
 * from the environment (`DATABASE_URL` set: the PostgreSQL hot buffer, one spilling
 * writer per venue; unset: the Parquet lake, its one writer), the venue's books, extra
 * sinks (the server's stream hub), and one {@linkcode Collector} per venue. `collect`,
 * `serve --exchange`, `replay` and the demo are thin programs over it, so every one of
 * them stores the same way.
 *
 * @example
 * ```ts ignore
 * import { assembleFeed } from "./feed.ts";
 * const feed = await assembleFeed({ venues: [{ exchange: "coinbase", symbols: ["BTC-USD"] }] });
 * feed.start();
 * // ...
 * const summaries = await feed.stop(); // flushes everything, closes the stores
 * ```
 * @module
 */
import { defaultLakeRoot } from "../../lib/config.ts";
import { LakeSink } from "../../lib/lake/lake_sink.ts";
import { ParquetLake } from "../../lib/lake/parquet_lake.ts";
import type { WriterLockOptions } from "../../lib/lake/writer_lock.ts";
import { type BufferConnection, openBufferFromEnv } from "../../lib/buffer/from_env.ts";
import type { EventSink } from "../../lib/market/sink.ts";
import type { PostgresWriter } from "../../lib/buffer/writer.ts";
import { ActionRecorder } from "./action_recorder.ts";
import { Collector, type CollectorOptions, type FrameRecorder } from "./collector.ts";
import { BOOK_CHANGES_QUEUE_CAPACITY, LAKE_KINDS_BY_DEFAULT, type VenueConfig } from "./config.ts";
import type { CollectorMetrics } from "./metrics.ts";
import type { BookStage, FeedSummary } from "./pipeline.ts";
import { venue, venueBookKeeper } from "../venues/mod.ts";

/** Options for {@linkcode assembleFeed}. */
export interface AssembleFeedOptions {
  /** The venues to collect live (none for a program that only needs the sinks: replay). */
  readonly venues?: readonly VenueConfig[];
  /**
   * The hot buffer's URL: default `$DATABASE_URL` (see `lib/cli/config.ts`); `false`
   * stores in the lake whatever the environment says (replay, the demo).
   */
  readonly databaseUrl?: string | false;
  /** Spill directory root of the buffer writers (default `data/spill`). */
  readonly spillRoot?: string;
  /** Parquet lake root when the lake is the store (default `$ALPHAPULSE_LAKE` or `./data/lake`). */
  readonly lake?: string;
  /** The lake's writer lock (default: refuse when another process writes it). */
  readonly lakeLock?: WriterLockOptions;
  /**
   * Store every book change in the lake too: `true`, `false`, or (default) each venue's own
   * default, `VenueSpec.bookChanges` (on for the venues whose feed sends level-2 changes).
   * The buffer always stores every kind.
   */
  readonly bookChanges?: boolean;
  /** Sinks fed besides the store (the server's stream hub), after it. */
  readonly extraSinks?: readonly EventSink[];
  /**
   * A recorder of every raw frame per venue (`collect --record`: a `RecordingWriter` of
   * `collectors/replay/`, which depends on the runtime, hence a factory here).
   */
  readonly recorder?: (exchange: string) => FrameRecorder;
  /** Where the collectors register their metrics. */
  readonly metrics?: CollectorMetrics;
  /** Fetch missed trades from the venues' REST histories (default `false`). */
  readonly backfill?: boolean;
  /**
   * Record each collector's start (with its configuration), resets and stop in the action
   * log of the store (`action_recorder.ts`; default `true`).
   */
  readonly actionLog?: boolean;
  /** The connections' logger (default: theirs). */
  readonly connectionLog?: NonNullable<CollectorOptions["connection"]>["log"];
}

/** An assembled feed: its store, its collectors. */
export interface Feed {
  /** Where events are stored: the PostgreSQL buffer or the Parquet lake. */
  readonly store: "buffer" | "lake";
  /** The lake written (when it is the store). */
  readonly lake?: ParquetLake;
  /** The buffer connection (when it is the store). */
  readonly buffer?: BufferConnection;
  /** One collector per venue, in the order of `venues`. */
  readonly collectors: readonly Collector[];
  /** The sinks of one more feed named `name` (a replay): the store's, then the extras. */
  sinks(name: string): EventSink[];
  /** The venue's book stage (integrity rule declared with the venue). */
  books(exchange: string): BookStage | undefined;
  /** Starts every collector. */
  start(): void;
  /** Stops every collector (flushing all in flight), then closes the stores. */
  stop(): Promise<FeedSummary[]>;
}

/**
 * Opens the store the environment asks for and builds the collectors of `venues` (not yet
 * started). Checks every venue name first (`RangeError` for an unknown one) and opens
 * nothing then.
 */
export async function assembleFeed(options: AssembleFeedOptions = {}): Promise<Feed> {
  const venues = options.venues ?? [];
  for (const v of venues) venue(v.exchange); // RangeError for an unknown venue
  const { buffer, lake } = await openStore(options);
  const bookChanges = (exchange: string) =>
    options.bookChanges ?? venue(exchange).bookChanges === true;
  const sinks = (name: string): EventSink[] => [
    buffer
      ? buffer.writer(name)
      : new LakeSink(lake!, { kinds: bookChanges(name) ? undefined : LAKE_KINDS_BY_DEFAULT }),
    ...(options.extraSinks ?? []),
  ];
  const collectorSinks = (v: VenueConfig): EventSink[] => {
    const [store, ...extras] = sinks(v.exchange);
    if (options.actionLog === false) return [store, ...extras];
    // Before the store's sink: its flush hands the entries to the store, which then
    // persists them with the feed (and is still open when the recorder closes).
    const config = {
      symbols: v.symbols,
      channels: v.channels ?? null,
      url: v.url ?? venue(v.exchange).url,
      store: buffer ? "buffer" : "lake",
    };
    const actions = new ActionRecorder({
      exchange: v.exchange,
      config,
      store: buffer ? store as PostgresWriter : lake!,
    });
    return [actions, store, ...extras];
  };
  const collectors = venues.map((v) =>
    new Collector({
      exchange: v.exchange,
      url: v.url ?? venue(v.exchange).url,
      restUrl: v.restUrl,
      symbols: v.symbols,
      channels: v.channels,
      sinks: collectorSinks(v),
      books: venueBookKeeper(v.exchange),
      recorder: options.recorder?.(v.exchange),
      metrics: options.metrics,
      // A flood of book changes into the lake is buffered within a memory budget (see the
      // constant); the buffer's writer spills instead.
      queue: bookChanges(v.exchange) && !buffer
        ? { capacity: BOOK_CHANGES_QUEUE_CAPACITY }
        : undefined,
      connection: {
        watchdogMs: v.watchdogMs,
        transport: v.transport,
        ...(options.connectionLog ? { log: options.connectionLog } : {}),
      },
      // Trades missed live are fetched from the venue's REST history (marked backfilled).
      backfill: options.backfill ? { baseUrl: v.restUrl } : undefined,
    })
  );
  let stopped: Promise<FeedSummary[]> | undefined;
  return {
    store: buffer ? "buffer" : "lake",
    lake,
    buffer,
    collectors,
    sinks,
    books: (exchange) => venueBookKeeper(exchange),
    start: () => {
      for (const c of collectors) c.start();
    },
    stop: () =>
      stopped ??= (async () => {
        const summaries = await Promise.all(collectors.map((c) => c.stop()));
        await lake?.close();
        await buffer?.close();
        return summaries;
      })(),
  };
}

/** The PostgreSQL buffer the environment names, or else the Parquet lake. */
async function openStore(
  options: AssembleFeedOptions,
): Promise<{ buffer?: BufferConnection; lake?: ParquetLake }> {
  const buffer = options.databaseUrl === false
    ? undefined
    : await openBufferFromEnv({ url: options.databaseUrl, spillRoot: options.spillRoot });
  if (buffer) return { buffer };
  const root = options.lake ?? defaultLakeRoot();
  return { lake: await ParquetLake.open({ root, lock: options.lakeLock }) };
}

/**
 * The `bookChanges` option of {@linkcode assembleFeed} from the `--book-changes` and
 * `--no-book-changes` flags: `true`, `false`, or `undefined` (each venue's default).
 * @throws {RangeError} when both are given.
 */
export function bookChangesFlag(
  values: { readonly "book-changes"?: unknown; readonly "no-book-changes"?: unknown },
): boolean | undefined {
  const on = values["book-changes"] === true;
  const off = values["no-book-changes"] === true;
  if (on && off) throw new RangeError("--book-changes and --no-book-changes contradict each other");
  return on ? true : off ? false : undefined;
}
