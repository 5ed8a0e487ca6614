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
 * A batch whose COPY fails because the server is unreachable is retried with exponential
 * backoff; if it still fails, the writer marks the database unavailable and spills that
 * batch and all following ones to segment files (COPY text, written to a temporary name,
 * synced, renamed) under `spillDir`, up to `maxSpillBytes`. `flush` resolves once every
 * batch is in PostgreSQL or in a synced segment, so nothing acknowledged is lost. A probe
 * with backoff notices when the server is back and replays the segments (idempotently:
 * a batch the server committed just before the connection dropped is not duplicated).
 * A batch that fits neither is dropped and counted in {@linkcode WriterStats.droppedRows}.
 * Segments left by an earlier process are replayed when a writer starts.
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
import type { EventSink } from "../market/sink.ts";
import type { MarketEvent, Trade } from "../market/types.ts";
import { nowMicros } from "../market/time.ts";
import { guardConnectionTeardown, isUnavailable } from "./_copy.ts";
import { type SpillSegment, SpillStore } from "./_spill.ts";
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Writes market events into the PostgreSQL hot buffer (see the module documentation for
 * batching, idempotency, spilling and backpressure). Run {@linkcode migrate} first.
 */
export class PostgresWriter implements EventSink {
  readonly #sql: postgres.Sql;
  readonly #ownsSql: boolean;
  readonly #connections: number;
  readonly #maxQueued: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #log: (message: string) => void;
  readonly #spill: SpillStore;
  readonly #encoder: RowEncoder;
  readonly #copier: BatchCopier;

  readonly #queue: Batch[] = [];
  #inflight = 0;
  #spilling = 0;
  #idleWaiters: (() => void)[] = [];
  #readyWaiters: (() => void)[] = [];

  #available = true;
  #probing: Promise<void> | undefined;
  #closed = false;
  #interruptProbe: (() => void) | undefined;
  #started: Promise<void>;
  readonly #releaseGuard = guardConnectionTeardown();

  #accepted = 0;
  #persisted = 0;
  #duplicates = 0;
  #conflictBatches = 0;
  readonly #rejected: Record<string, number> = {};
  readonly #rejectedBy: Partial<Record<Rejection, number>> = {};
  #spilledRows = 0;
  #spilledBatches = 0;
  #replayedRows = 0;
  #droppedRows = 0;

  constructor(options: PostgresWriterOptions) {
    if (!options.sql && !options.url) throw new TypeError("PostgresWriter needs url or sql");
    const positive = (name: string, value: number | undefined, fallback: number) => {
      const v = value ?? fallback;
      if (!Number.isInteger(v) || v < 0) {
        throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
      }
      return v;
    };
    const batchRows = Math.max(1, positive("batchRows", options.batchRows, 20_000));
    this.#connections = Math.max(1, positive("connections", options.connections, 2));
    this.#maxQueued = Math.max(1, positive("maxQueuedBatches", options.maxQueuedBatches, 8));
    this.#retries = positive("retries", options.retries, 3);
    this.#backoffMs = positive("backoffMs", options.backoffMs, 100);
    this.#maxBackoffMs = positive("maxBackoffMs", options.maxBackoffMs, 30_000);
    this.#encoder = new RowEncoder({
      batchRows,
      dedupeWindow: positive("dedupeWindow", options.dedupeWindow, 8_192),
      bookDepth: Math.max(1, positive("bookDepth", options.bookDepth, 50)),
      sealed: (batch) => this.#enqueue(batch),
    });
    this.#log = options.log ?? ((m) => console.warn(m));
    this.#spill = new SpillStore(
      options.spillDir ?? "data/spill",
      positive("maxSpillBytes", options.maxSpillBytes, 1 << 30),
    );
    this.#ownsSql = !options.sql;
    this.#sql = options.sql ?? postgres(options.url!, {
      max: this.#connections + 1,
      onnotice: () => {},
      connect_timeout: 5,
      idle_timeout: 60,
    });
    this.#copier = new BatchCopier(this.#sql);
    // Replay what an earlier process left behind before writing anything new.
    this.#started = this.#spill.list().then((segments) => {
      if (segments.length > 0) {
        this.#available = false;
        this.#log(`buffer writer: ${segments.length} spill segments found, replaying`);
        this.#startProbe();
      }
    });
  }

  /** Current counters. */
  stats(): WriterStats {
    return {
      accepted: this.#accepted,
      persisted: this.#persisted,
      duplicates: this.#duplicates,
      conflictBatches: this.#conflictBatches,
      rejected: { ...this.#rejected },
      rejectedBy: { ...this.#rejectedBy },
      spilledRows: this.#spilledRows,
      spilledBatches: this.#spilledBatches,
      replayedRows: this.#replayedRows,
      droppedRows: this.#droppedRows,
      queuedBatches: this.#queue.length + this.#inflight,
      available: this.#available,
    };
  }

  /** Resolves when fewer than `maxQueuedBatches` batches wait (backpressure). */
  ready(): Promise<void> {
    if (this.#queue.length < this.#maxQueued) return Promise.resolve();
    return new Promise((r) => this.#readyWaiters.push(r));
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
    const before = this.#persisted + this.#spilledRows;
    this.#encoder.sealAll();
    await this.#idle();
    return this.#persisted + this.#spilledRows - before;
  }

  /**
   * Tries to replay spill segments now (normally a background probe does this). Resolves
   * to `true` when no segment is left.
   */
  async replay(): Promise<boolean> {
    await this.#started;
    if (this.#probing) await this.#probing;
    if ((await this.#spill.list()).length === 0) return true;
    this.#available = false;
    this.#startProbe(0);
    await this.#probing;
    return (await this.#spill.list()).length === 0;
  }

  /** Flushes and, if the writer created its client, closes it. Spill segments stay on disk. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    this.#interruptProbe?.();
    if (this.#probing) await this.#probing;
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

  // --- delivery -------------------------------------------------------------------------

  #enqueue(batch: Batch): void {
    if (this.#queue.length >= 2 * this.#maxQueued) {
      // The producer ignores backpressure: keep memory bounded by spilling.
      this.#spilling++;
      this.#spillBatch(batch).finally(() => {
        this.#spilling--;
        this.#wake();
      });
      return;
    }
    this.#queue.push(batch);
    this.#pump();
  }

  #pump(): void {
    while (this.#inflight < this.#connections && this.#queue.length > 0) {
      const batch = this.#queue.shift()!;
      this.#inflight++;
      this.#deliver(batch).catch((e) => {
        this.#droppedRows += batch.rows;
        this.#log(`buffer writer: lost a batch of ${batch.rows} rows: ${(e as Error).message}`);
      }).finally(() => {
        this.#inflight--;
        this.#pump();
        this.#wake();
      });
    }
  }

  #wake(): void {
    if (this.#queue.length < this.#maxQueued && this.#readyWaiters.length) {
      const waiters = this.#readyWaiters;
      this.#readyWaiters = [];
      for (const w of waiters) w();
    }
    if (this.#queue.length === 0 && this.#inflight === 0 && this.#spilling === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inflight === 0 && this.#spilling === 0) {
      return Promise.resolve();
    }
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  async #deliver(batch: Batch): Promise<void> {
    await this.#started;
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (!this.#available) break;
      try {
        const inserted = await this.#copyIdempotent(batch);
        this.#persisted += inserted;
        return;
      } catch (e) {
        lastError = e;
        if (!isUnavailable(e)) return this.#refused(batch, e);
        if (attempt < this.#retries) {
          await sleep(Math.min(this.#backoffMs * 2 ** attempt, this.#maxBackoffMs));
        }
      }
    }
    if (this.#available) {
      this.#available = false;
      this.#log(
        `buffer writer: database unavailable (${(lastError as Error)?.message}); ` +
          `spilling to ${this.#spill.dir}`,
      );
      this.#startProbe();
    }
    this.#spilling++;
    try {
      await this.#spillBatch(batch);
    } finally {
      this.#spilling--;
    }
  }

  async #spillBatch(batch: Batch): Promise<void> {
    let stored = false;
    try {
      stored = await this.#spill.put(
        batch.table,
        batch.rows,
        batch.minTs,
        batch.maxTs,
        batch.chunks,
      );
    } catch (e) {
      this.#log(`buffer writer: spill write failed: ${(e as Error).message}`);
    }
    if (stored) {
      this.#spilledRows += batch.rows;
      this.#spilledBatches++;
      if (this.#available) this.#startProbe(0);
    } else {
      this.#droppedRows += batch.rows;
      this.#log(
        `buffer writer: dropped ${batch.rows} ${batch.table} rows: spill directory full ` +
          `(${this.#spill.maxBytes} bytes) or not writable`,
      );
    }
  }

  #refused(batch: Batch, error: unknown): void {
    this.#droppedRows += batch.rows;
    this.#log(
      `buffer writer: the server refused a batch of ${batch.rows} ${batch.table} rows ` +
        `(${(error as { code?: string }).code ?? ""} ${(error as Error).message}); dropped`,
    );
  }

  /** Starts the background probe that replays spill segments once the server answers. */
  #startProbe(firstDelay = this.#backoffMs): void {
    if (this.#probing) return;
    this.#probing = (async () => {
      let delay = firstDelay;
      while (!this.#closed) {
        if (delay > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            this.#interruptProbe = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.#interruptProbe = undefined;
          if (this.#closed) return;
        }
        delay = Math.min(Math.max(delay * 2, this.#backoffMs), this.#maxBackoffMs);
        try {
          await this.#sql`select 1`;
        } catch (e) {
          if (this.#closed) return;
          if (isUnavailable(e)) continue;
          throw e;
        }
        if (await this.#replaySegments()) return;
        if (this.#closed) return;
      }
    })().catch((e) => {
      this.#log(`buffer writer: replay stopped: ${(e as Error).message}`);
    }).finally(() => {
      this.#probing = undefined;
    });
  }

  /** Replays every segment; `true` when none is left and the writer is available again. */
  async #replaySegments(): Promise<boolean> {
    while (true) {
      const segments = await this.#spill.list();
      if (segments.length === 0) {
        if (this.#spilling > 0) {
          await sleep(10);
          continue;
        }
        if (!this.#available) this.#log("buffer writer: database available again");
        this.#available = true;
        return true;
      }
      for (const segment of segments) {
        if (!await this.#replaySegment(segment)) return false;
      }
    }
  }

  async #replaySegment(segment: SpillSegment): Promise<boolean> {
    if (!isTableName(segment.table)) {
      this.#log(`buffer writer: ignoring spill segment for unknown table: ${segment.path}`);
      await Deno.rename(segment.path, segment.path + ".unknown");
      return true;
    }
    const batch: Batch = {
      table: segment.table,
      chunks: [await this.#spill.read(segment)],
      rows: segment.rows,
      minTs: segment.minTs,
      maxTs: segment.maxTs,
    };
    try {
      const inserted = await this.#copyIdempotent(batch);
      this.#replayedRows += inserted;
      this.#persisted += inserted;
    } catch (e) {
      if (isUnavailable(e)) return false;
      this.#refused(batch, e);
      await Deno.rename(segment.path, segment.path + ".refused");
      return true;
    }
    await this.#spill.remove(segment);
    return true;
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
