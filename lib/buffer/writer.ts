/**
 * `PostgresWriter`: the hot buffer's {@linkcode EventSink}. Events are validated and
 * encoded as COPY text on `write`, grouped into batches per table and streamed with
 * `COPY ... FROM STDIN` through npm:postgres.
 *
 * ## Idempotency at COPY speed
 * Every table has a unique idempotency key. A batch is first copied straight into its
 * table (the fast path, as fast as `psql \copy`); COPY is atomic, so when the batch holds
 * a row that is already stored the server rejects the whole batch with a unique violation
 * and nothing is written. Only then is that batch replayed through the slow path: COPY
 * into a temporary table and `INSERT ... ON CONFLICT DO NOTHING`. A window of recent trade
 * keys per instrument drops re-sent trades before they are encoded, so the common case of
 * a collector re-sending its last trades after a reconnect stays on the fast path.
 *
 * ## When the database is down
 * Batches are delivered through a {@linkcode DurableDelivery} (`lib/delivery/`): a batch
 * whose COPY fails because the server is unreachable is retried with exponential backoff;
 * if it still fails, the database is marked unavailable and that batch and all following
 * ones are spilled to segment files (COPY text, written to a temporary name, synced,
 * renamed) under `spillDir`, up to `maxSpillBytes`. `flush` resolves once every batch is in
 * PostgreSQL or in a synced segment, so nothing acknowledged is lost. A probe with backoff
 * notices when the server is back and replays the segments (idempotently: a batch the
 * server committed just before the connection dropped is not duplicated). A batch that
 * fits neither is dropped and counted in {@linkcode WriterStats.droppedRows}. Segments
 * left by an earlier process are replayed when a writer starts.
 *
 * ## Backpressure
 * `write` never blocks. {@linkcode PostgresWriter.ready} resolves when fewer than
 * `maxQueuedBatches` batches wait; producers that can pause should await it. Beyond twice
 * that, sealed batches go to the spill directory instead of memory.
 *
 * ## Bad rows
 * Rows are checked by the schema's rules (`lib/schema/rules.ts`), the ones the lake
 * applies: an exchange or symbol that is not path-safe (`*`, connection-wide, is kept in
 * the event log), NaN or non-positive trade prices and sizes, negative sizes, times before
 * 2000 (year-1 placeholders) or a day in the future are rejected: counted per reason in
 * {@linkcode WriterStats.rejectedBy} (the lake's words) and {@linkcode WriterStats.rejected}
 * (a sentence per reason), and the first row of each reason is logged with context.
 *
 * @example
 * ```ts ignore
 * import { PostgresWriter } from "./writer.ts";
 * const writer = new PostgresWriter({ url: Deno.env.get("DATABASE_URL")! });
 * writer.write(events);
 * await writer.flush();
 * await writer.close();
 * ```
 * @module
 */
import postgres from "postgres";
import type { BackpressureReporting, Durable, EventSink } from "../market/sink.ts";
import type { MarketEvent, Trade } from "../market/types.ts";
import { nowMicros } from "../market/time.ts";
import { guardConnectionTeardown, isUnavailable } from "./_copy.ts";
import { DurableDelivery } from "../delivery/durable_delivery.ts";
import type { ActionRow } from "../schema/action_rows.ts";
import {
  actionRowRejection,
  eventRejection,
  latestValidMicros,
  type Rejection,
  rejectionDetail,
} from "../schema/rules.ts";
import { isTableName, type TableName } from "../schema/tables.ts";
import { type Batch, RowEncoder } from "./_encoder.ts";
import { BatchCopier } from "./_batch_copy.ts";
import type { PostgresWriterOptions, WriterStats } from "./writer_options.ts";

export type { PostgresWriterOptions, WriterStats };

/** A buffer table the writer fills (the schema's {@linkcode TableName}). */
export type BufferTable = TableName;

function count(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
  return v;
}

/**
 * Writes market events into the PostgreSQL hot buffer (see the module documentation for
 * batching, idempotency, spilling and backpressure). Run {@linkcode migrate} first.
 */
export class PostgresWriter implements EventSink, BackpressureReporting, Durable {
  readonly #sql: postgres.Sql;
  readonly #ownsSql: boolean;
  readonly #log: (message: string) => void;
  readonly #encoder: RowEncoder;
  readonly #copier: BatchCopier;
  readonly #delivery: DurableDelivery<Batch>;
  #closed = false;
  readonly #releaseGuard = guardConnectionTeardown();

  #accepted = 0;
  #duplicates = 0;
  #conflictBatches = 0;
  readonly #rejected: Record<string, number> = {};
  readonly #rejectedBy: Partial<Record<Rejection, number>> = {};

  constructor(options: PostgresWriterOptions) {
    if (!options.sql && !options.url) throw new TypeError("PostgresWriter needs url or sql");
    const batchRows = Math.max(1, count("batchRows", options.batchRows, 20_000));
    const connections = Math.max(1, count("connections", options.connections, 2));
    this.#encoder = new RowEncoder({
      batchRows,
      dedupeWindow: count("dedupeWindow", options.dedupeWindow, 8_192),
      bookDepth: Math.max(1, count("bookDepth", options.bookDepth, 50)),
      sealed: (batch) => this.#delivery.enqueue(batch),
    });
    this.#log = options.log ?? ((m) => console.warn(m));
    this.#ownsSql = !options.sql;
    this.#sql = options.sql ?? postgres(options.url!, {
      max: connections + 1,
      onnotice: () => {},
      connect_timeout: 5,
      idle_timeout: 60,
    });
    this.#copier = new BatchCopier(this.#sql);
    this.#delivery = new DurableDelivery<Batch>({
      deliver: (batch) => this.#copyIdempotent(batch),
      probe: () => this.#sql`select 1`,
      isUnavailable,
      restore: (segment, bytes) =>
        isTableName(segment.table)
          ? { ...segment, table: segment.table, chunks: [bytes] }
          : undefined,
      spillDir: options.spillDir ?? "data/spill",
      maxSpillBytes: options.maxSpillBytes,
      connections,
      maxQueuedBatches: options.maxQueuedBatches,
      retries: options.retries,
      backoffMs: options.backoffMs,
      maxBackoffMs: options.maxBackoffMs,
      label: "buffer writer",
      target: "database",
      log: this.#log,
    });
  }

  /** Current counters. */
  stats(): WriterStats {
    const delivery = this.#delivery.stats();
    return {
      accepted: this.#accepted,
      persisted: delivery.persisted,
      duplicates: this.#duplicates,
      conflictBatches: this.#conflictBatches,
      rejected: { ...this.#rejected },
      rejectedBy: { ...this.#rejectedBy },
      spilledRows: delivery.spilledRows,
      spilledBatches: delivery.spilledBatches,
      replayedRows: delivery.replayedRows,
      droppedRows: delivery.droppedRows,
      queuedBatches: delivery.queuedBatches,
      available: delivery.available,
    };
  }

  /** Resolves when fewer than `maxQueuedBatches` batches wait (backpressure). */
  ready(): Promise<void> {
    return this.#delivery.ready();
  }

  /**
   * Validates (the schema's rules, shared with the lake: `lib/schema/rules.ts`), encodes
   * and queues events; never blocks.
   */
  write(events: readonly MarketEvent[]): void {
    if (this.#closed) throw new TypeError("PostgresWriter is closed");
    const latest = latestValidMicros(nowMicros());
    for (const e of events) {
      const reason = eventRejection(e, latest);
      if (reason !== undefined) {
        this.#reject(reason, e);
        continue;
      }
      if (e.kind === "trade" && !this.#encoder.trade(e)) {
        this.#duplicates++;
        continue;
      }
      this.#accepted++;
      switch (e.kind) {
        case "book_change":
          this.#encoder.book(e, "book_changes");
          break;
        case "book_snapshot":
          this.#encoder.book(e, "book_snapshots");
          break;
        case "quote":
          this.#encoder.quote(e);
          break;
        case "bar":
          this.#encoder.bar(e);
          break;
        case "status":
          this.#encoder.status(e);
          break;
      }
    }
  }

  /**
   * Validates ({@linkcode actionRowRejection}), encodes and queues rows of action logs for
   * the `actions` table, like {@linkcode PostgresWriter.write} does events: batched, spilled
   * while the database is down, idempotent on (source, run, seq). Never blocks.
   */
  writeActions(rows: readonly ActionRow[]): void {
    if (this.#closed) throw new TypeError("PostgresWriter is closed");
    const latest = latestValidMicros(nowMicros());
    for (const r of rows) {
      const reason = actionRowRejection(r, latest);
      if (reason !== undefined) {
        const loose = { kind: "action", exchange: r?.source, symbol: r?.run, ts: r?.ts };
        this.#reject(reason, loose as unknown as MarketEvent);
        continue;
      }
      this.#accepted++;
      this.#encoder.action(r);
    }
  }

  /**
   * Writes everything queued so far to PostgreSQL (or, while it is down, to spill
   * segments). Resolves to the rows made durable by this call.
   */
  async flush(): Promise<number> {
    const before = this.#delivery.durableRows;
    this.#encoder.sealAll();
    await this.#delivery.idle();
    return this.#delivery.durableRows - before;
  }

  /**
   * Tries to replay spill segments now (normally a background probe does this). Resolves
   * to `true` when no segment is left.
   */
  replay(): Promise<boolean> {
    return this.#delivery.replay();
  }

  /** Flushes and, if the writer created its client, closes it. Spill segments stay on disk. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#delivery.close();
    if (this.#ownsSql) await this.#sql.end({ timeout: 5 });
    this.#releaseGuard();
  }

  #reject(reason: Rejection, e: MarketEvent): void {
    this.#rejectedBy[reason] = (this.#rejectedBy[reason] ?? 0) + 1;
    const detail = rejectionDetail(reason, e);
    const n = (this.#rejected[detail] ?? 0) + 1;
    this.#rejected[detail] = n;
    if (n === 1) {
      const id = e?.kind === "trade" ? ` id=${(e as Trade).id}` : "";
      this.#log(
        `buffer writer: rejected ${e?.kind} (${detail}): ${e?.exchange} ${e?.symbol}${id} ` +
          `ts=${e?.ts} recvTs=${e?.recvTs}` +
          (e?.kind === "trade" ? ` price=${e.price} size=${e.size}` : "") +
          " (further rows with this reason are only counted)",
      );
    }
  }

  /** COPY with the fast path, the slow path on conflict; resolves to rows inserted. */
  async #copyIdempotent(batch: Batch): Promise<number> {
    const { inserted, conflict } = await this.#copier.copy(batch);
    if (conflict) {
      this.#conflictBatches++;
      this.#duplicates += batch.rows - inserted;
    }
    return inserted;
  }
}
