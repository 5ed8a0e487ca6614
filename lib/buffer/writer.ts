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
import type {
  Bar,
  BookChange,
  BookSnapshot,
  FeedStatus,
  MarketEvent,
  Quote,
  Trade,
} from "../market/types.ts";
import { MICROS_PER_SECOND, nowMicros } from "../market/time.ts";
import {
  bookText,
  digestOf,
  quoteText,
  statusText,
  storedBookLevels,
} from "../market/event_digest.ts";
import {
  CHECK_VIOLATION,
  CopyBuffer,
  copyIn,
  copyText,
  guardConnectionTeardown,
  isUnavailable,
  type Queryable,
  TimestampFormatter,
  UNIQUE_VIOLATION,
} from "./_copy.ts";
import { type SpillSegment, SpillStore } from "./_spill.ts";
import {
  eventRejection,
  latestValidMicros,
  type Rejection,
  rejectionDetail,
} from "../schema/rules.ts";
import { isTableName, type TableName, TABLES } from "../schema/tables.ts";

/** Options for {@linkcode PostgresWriter}. */
export interface PostgresWriterOptions {
  /** Connection URL (`postgres://...`); the writer owns and closes its client. */
  readonly url?: string;
  /** Or an existing npm:postgres client (not closed by the writer). */
  readonly sql?: postgres.Sql;
  /** Rows per COPY batch (default 20,000). */
  readonly batchRows?: number;
  /** Concurrent COPY streams (default 2). */
  readonly connections?: number;
  /** Batches that may wait before {@linkcode PostgresWriter.ready} holds producers (default 8). */
  readonly maxQueuedBatches?: number;
  /** Directory for spill segments (default `data/spill`). */
  readonly spillDir?: string;
  /** Bound of the spill directory in bytes (default 1 GiB). */
  readonly maxSpillBytes?: number;
  /** Immediate retries of a failed batch before spilling (default 3). */
  readonly retries?: number;
  /** First backoff delay in ms (default 100); doubles per attempt. */
  readonly backoffMs?: number;
  /** Longest backoff delay in ms while probing a down database (default 30,000). */
  readonly maxBackoffMs?: number;
  /** Recent trade keys remembered per instrument to drop re-sent trades (default 8,192). */
  readonly dedupeWindow?: number;
  /** Levels per side kept from a book snapshot (default 50). */
  readonly bookDepth?: number;
  /** Where problems are reported (default `console.warn`). */
  readonly log?: (message: string) => void;
}

/** Counters of a {@linkcode PostgresWriter}. */
export interface WriterStats {
  /** Rows validated and queued. */
  readonly accepted: number;
  /** New rows stored in PostgreSQL (replays included). */
  readonly persisted: number;
  /** Rows skipped because they were stored already (recent-key window or conflict). */
  readonly duplicates: number;
  /** Batches that took the slow path after a unique violation. */
  readonly conflictBatches: number;
  /**
   * Invalid rows by the sentence that explains the reason (`price NaN`, `size negative`,
   * ...; see `rejectionDetail` in `lib/schema/rules.ts`).
   */
  readonly rejected: Readonly<Record<string, number>>;
  /**
   * Invalid rows by reason, in the vocabulary every store shares (the lake's
   * `WriteCounts.rejectedBy`): `price`, `size`, `symbol`, ...
   */
  readonly rejectedBy: Readonly<Partial<Record<Rejection, number>>>;
  /** Rows and batches written to spill segments. */
  readonly spilledRows: number;
  readonly spilledBatches: number;
  /** Rows replayed from spill segments into PostgreSQL. */
  readonly replayedRows: number;
  /** Rows lost: the spill bound was reached, or the server refused the data. */
  readonly droppedRows: number;
  /** Batches waiting or being written. */
  readonly queuedBatches: number;
  /** Whether the writer currently believes the database is reachable. */
  readonly available: boolean;
}

/** A buffer table the writer fills (the schema's {@linkcode TableName}). */
export type BufferTable = TableName;

const DAY = 86_400 * MICROS_PER_SECOND;

interface Batch {
  readonly table: BufferTable;
  readonly chunks: readonly Uint8Array[];
  readonly rows: number;
  readonly minTs: number;
  readonly maxTs: number;
}

/** Accumulates the COPY text of one table. */
class BatchBuilder {
  readonly table: BufferTable;
  readonly buf = new CopyBuffer();
  rows = 0;
  minTs = Infinity;
  maxTs = -Infinity;

  constructor(table: BufferTable) {
    this.table = table;
  }

  /** Records a row whose text was just written to `buf`. */
  added(ts: number): void {
    this.rows++;
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
  }

  seal(): Batch {
    const batch: Batch = {
      table: this.table,
      chunks: [this.buf.take()],
      rows: this.rows,
      minTs: this.minTs,
      maxTs: this.maxTs,
    };
    this.rows = 0;
    this.minTs = Infinity;
    this.maxTs = -Infinity;
    return batch;
  }
}

/**
 * The last trades of one instrument (ids and times in arrival order), to drop re-sent
 * trades cheaply. A trade newer than every remembered one costs two array stores; an older
 * one (a re-send, or out of order) scans the window.
 */
class RecentTrades {
  readonly #ts: Float64Array;
  readonly #ids: string[];
  #pos = 0;
  #count = 0;
  #maxTs = -Infinity;

  constructor(size: number) {
    this.#ts = new Float64Array(size);
    this.#ids = new Array<string>(size);
  }

  /** Remembers the trade; returns `true` if it was remembered already. */
  seen(id: string, ts: number): boolean {
    const size = this.#ts.length;
    if (ts <= this.#maxTs) {
      // Same time as the newest: scan the burst of equal times at the tail only.
      const burstOnly = ts === this.#maxTs;
      for (let k = 1, i = this.#pos - 1; k <= this.#count; k++, i--) {
        if (i < 0) i += size;
        const t = this.#ts[i];
        if (t === ts && this.#ids[i] === id) return true;
        if (burstOnly && t !== ts) break;
      }
    } else {
      this.#maxTs = ts;
    }
    this.#ts[this.#pos] = ts;
    this.#ids[this.#pos] = id;
    this.#pos = this.#pos + 1 === size ? 0 : this.#pos + 1;
    if (this.#count < size) this.#count++;
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Writes market events into the PostgreSQL hot buffer (see the module documentation for
 * batching, idempotency, spilling and backpressure). Run {@linkcode migrate} first.
 */
export class PostgresWriter implements EventSink {
  readonly #sql: postgres.Sql;
  readonly #ownsSql: boolean;
  readonly #batchRows: number;
  readonly #connections: number;
  readonly #maxQueued: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #dedupeWindow: number;
  readonly #bookDepth: number;
  readonly #log: (message: string) => void;
  readonly #spill: SpillStore;

  readonly #builders = new Map<BufferTable, BatchBuilder>();
  #trades: BatchBuilder | undefined;
  readonly #queue: Batch[] = [];
  #inflight = 0;
  #spilling = 0;
  #idleWaiters: (() => void)[] = [];
  #readyWaiters: (() => void)[] = [];
  readonly #recent = new Map<string, RecentTrades>();
  readonly #ensured = new Set<string>();
  readonly #tsFormat = new TimestampFormatter();
  readonly #recvFormat = new TimestampFormatter();
  readonly #escaped = new Map<string, string>();
  #lastRecentKey = "";
  #lastRecent: RecentTrades | undefined;

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
    this.#batchRows = Math.max(1, positive("batchRows", options.batchRows, 20_000));
    this.#connections = Math.max(1, positive("connections", options.connections, 2));
    this.#maxQueued = Math.max(1, positive("maxQueuedBatches", options.maxQueuedBatches, 8));
    this.#retries = positive("retries", options.retries, 3);
    this.#backoffMs = positive("backoffMs", options.backoffMs, 100);
    this.#maxBackoffMs = positive("maxBackoffMs", options.maxBackoffMs, 30_000);
    this.#dedupeWindow = positive("dedupeWindow", options.dedupeWindow, 8_192);
    this.#bookDepth = Math.max(1, positive("bookDepth", options.bookDepth, 50));
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
      switch (e.kind) {
        case "trade":
          this.#writeTrade(e);
          break;
        case "book_change":
          this.#writeBook(e, "book_changes");
          break;
        case "book_snapshot":
          this.#writeBook(e, "book_snapshots");
          break;
        case "quote":
          this.#writeQuote(e);
          break;
        case "bar":
          this.#writeBar(e);
          break;
        case "status":
          this.#writeStatus(e);
          break;
      }
    }
  }

  /**
   * Writes everything queued so far to PostgreSQL (or, while it is down, to spill
   * segments). Resolves to the rows made durable by this call.
   */
  async flush(): Promise<number> {
    const before = this.#persisted + this.#spilledRows;
    for (const builder of this.#builders.values()) {
      if (builder.rows > 0) this.#enqueue(builder.seal());
    }
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

  // --- encoding -------------------------------------------------------------------------

  #builder(table: BufferTable): BatchBuilder {
    let b = this.#builders.get(table);
    if (!b) this.#builders.set(table, b = new BatchBuilder(table));
    return b;
  }

  #text(value: string): string {
    let out = this.#escaped.get(value);
    if (out === undefined) {
      out = copyText(value);
      if (this.#escaped.size > 10_000) this.#escaped.clear();
      this.#escaped.set(value, out);
    }
    return out;
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

  #writeTrade(t: Trade): void {
    if (this.#dedupeWindow > 0) {
      const instrument = t.exchange + "\u0000" + t.symbol;
      let recent = this.#lastRecent;
      if (instrument !== this.#lastRecentKey || !recent) {
        recent = this.#recent.get(instrument);
        if (!recent) this.#recent.set(instrument, recent = new RecentTrades(this.#dedupeWindow));
        this.#lastRecentKey = instrument;
        this.#lastRecent = recent;
      }
      if (recent.seen(t.id, t.ts)) {
        this.#duplicates++;
        return;
      }
    }
    const builder = this.#trades ??= this.#builder("trades");
    const buf = builder.buf;
    buf.cached(t.exchange);
    buf.byte(9);
    buf.cached(t.symbol);
    buf.byte(9);
    buf.text(t.id);
    buf.byte(9);
    buf.number(t.price);
    buf.byte(9);
    buf.number(t.size);
    buf.byte(9);
    buf.cached(t.side);
    buf.byte(9);
    buf.timestamp(t.ts, 0);
    buf.byte(9);
    buf.timestamp(t.recvTs, 1);
    buf.byte(10);
    builder.added(t.ts);
    this.#accepted++;
    if (builder.rows >= this.#batchRows) this.#enqueue(builder.seal());
  }

  /** Header columns plus the digest of `rest` (the remaining columns' text). */
  #line(e: MarketEvent, rest: string): string {
    return this.#text(e.exchange) + "\t" + this.#text(e.symbol) + "\t" +
      this.#tsFormat.format(e.ts) + "\t" + this.#recvFormat.format(e.recvTs) + "\t" +
      digestOf(rest) + "\t" + rest + "\n";
  }

  #writeBook(
    e: BookChange | BookSnapshot,
    table: "book_changes" | "book_snapshots",
  ): void {
    const rest = bookText(
      storedBookLevels(e, this.#bookDepth),
      e.kind === "book_change"
        ? [e.firstSequence, e.sequence, e.checksum]
        : [e.sequence, e.checksum],
    );
    this.#add(table, this.#line(e, rest), e.ts);
  }

  #writeQuote(q: Quote): void {
    // Sizes may be NaN: not given by the venue (see `Quote`); stored as float8 'NaN'.
    const rest = quoteText(q.bidPrice, q.bidSize, q.askPrice, q.askSize);
    this.#add("quotes", this.#line(q, rest), q.ts);
  }

  #writeBar(b: Bar): void {
    const line = this.#text(b.exchange) + "\t" + this.#text(b.symbol) + "\t" + b.interval +
      "\t" + this.#tsFormat.format(b.ts) + "\t" + this.#recvFormat.format(b.recvTs) + "\t" +
      b.open + "\t" + b.high + "\t" + b.low + "\t" + b.close + "\t" + b.volume + "\t" +
      (Number.isFinite(b.vwap) ? String(b.vwap) : "\\N") + "\t" + b.trades + "\n";
    this.#add("bars", line, b.ts);
  }

  #writeStatus(s: FeedStatus): void {
    const rest = statusText(s.status, s.reason ?? "");
    this.#add("event_log", this.#line(s, rest), s.ts);
  }

  #add(table: BufferTable, line: string, ts: number): void {
    const builder = this.#builder(table);
    builder.buf.raw(line);
    builder.added(ts);
    this.#accepted++;
    if (builder.rows >= this.#batchRows) this.#enqueue(builder.seal());
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

  async #ensurePartitions(sql: Queryable, batch: Batch): Promise<void> {
    if (!TABLES[batch.table].bufferPartitioned || batch.rows === 0) return;
    const first = Math.floor(batch.minTs / DAY);
    const last = Math.floor(batch.maxTs / DAY);
    let missing = false;
    for (let d = first; d <= last && !missing; d++) {
      missing = !this.#ensured.has(batch.table + d);
    }
    if (!missing) return;
    // One day ahead too, so that the partition exists before midnight's first rows.
    await sql`select buffer_ensure_partitions(${batch.table},
      ${new Date(first * DAY / 1000)}, ${new Date((last + 1) * DAY / 1000)})`;
    for (let d = first; d <= last + 1; d++) this.#ensured.add(batch.table + d);
  }

  /** COPY with the fast path, the slow path on conflict; resolves to rows inserted. */
  async #copyIdempotent(batch: Batch): Promise<number> {
    const columns = TABLES[batch.table].copyColumns;
    await this.#ensurePartitions(this.#sql, batch);
    try {
      await copyIn(this.#sql, `copy ${batch.table} (${columns}) from stdin`, batch.chunks);
      return batch.rows;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === CHECK_VIOLATION && /no partition/i.test((e as Error).message)) {
        // Partitions were dropped behind our back (retention): create them again.
        for (const key of [...this.#ensured]) {
          if (key.startsWith(batch.table)) this.#ensured.delete(key);
        }
        await this.#ensurePartitions(this.#sql, batch);
      } else if (code !== UNIQUE_VIOLATION) {
        throw e;
      }
    }
    this.#conflictBatches++;
    const inserted = await this.#sql.begin(async (tx) => {
      const stage = `_stage_${batch.table}`;
      await tx.unsafe(`create temp table ${stage} (like ${batch.table}) on commit drop`);
      await copyIn(tx, `copy ${stage} (${columns}) from stdin`, batch.chunks);
      const result = await tx.unsafe(
        `insert into ${batch.table} select * from ${stage} on conflict do nothing`,
      );
      return result.count;
    });
    this.#duplicates += batch.rows - inserted;
    return inserted;
  }
}
