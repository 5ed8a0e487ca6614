/**
 * `DurableDelivery`: the retry, spill and replay between a sink and its store, for any sink
 * that turns events into batches of bytes (the PostgreSQL buffer writer's COPY batches).
 *
 * A batch is handed to `deliver` by up to `connections` workers. When the store is
 * unreachable (`isUnavailable(error)`) the batch is retried with exponential backoff; if it
 * still fails the store is marked unavailable and that batch and all following ones are
 * spilled to segment files ({@linkcode SpillStore}: written to a temporary name, synced,
 * renamed) up to the spill bound. {@linkcode DurableDelivery.idle} resolves once every batch
 * is stored or in a synced segment, so nothing acknowledged is lost. A probe with backoff
 * notices when the store answers again and replays the segments in order through the same
 * `deliver` (which must be idempotent: a batch the store committed just before the
 * connection dropped must not be stored twice). A batch the store refuses (any other error)
 * or that fits nowhere is dropped and counted. Segments left by an earlier process are
 * replayed when the delivery starts.
 *
 * @example
 * ```ts ignore
 * import { DurableDelivery } from "./durable_delivery.ts";
 * const delivery = new DurableDelivery({
 *   deliver: (batch) => store.copy(batch),
 *   probe: () => store.ping(),
 *   isUnavailable: (e) => e instanceof Deno.errors.ConnectionRefused,
 *   spillDir: "data/spill/mine",
 * });
 * delivery.enqueue(batch);
 * await delivery.idle();
 * await delivery.close();
 * ```
 * @module
 */
import { type SpillSegment, SpillStore } from "./spill_store.ts";

/** A unit of delivery: rows of one table as bytes, kept as is in a spill segment. */
export interface SpillableBatch {
  /** Target table: lower-case letters and `_` (it names the segment). */
  readonly table: string;
  /** The batch's bytes (concatenated, the segment's content). */
  readonly chunks: readonly Uint8Array[];
  /** Rows in the batch. */
  readonly rows: number;
  /** Earliest and latest time of the rows, microseconds (non-negative integers). */
  readonly minTs: number;
  readonly maxTs: number;
}

/** Options for {@linkcode DurableDelivery}. */
export interface DurableDeliveryOptions<B extends SpillableBatch> {
  /** Stores one batch; resolves to the rows newly stored (idempotent). */
  readonly deliver: (batch: B) => Promise<number>;
  /** Resolves when the store answers (rejects with an unavailable error while it is down). */
  readonly probe: () => Promise<unknown>;
  /** Whether an error means "the store is unreachable" (retry, spill) rather than refused. */
  readonly isUnavailable: (error: unknown) => boolean;
  /**
   * A batch from a spill segment (its bytes as the one chunk), or `undefined` for a table
   * this sink does not know (the segment is set aside as `<name>.unknown`). Default: the
   * segment's fields as they are.
   */
  readonly restore?: (segment: SpillSegment, bytes: Uint8Array) => B | undefined;
  /** Directory of spill segments. */
  readonly spillDir: string;
  /** Bound of the spill directory in bytes (default 1 GiB). */
  readonly maxSpillBytes?: number;
  /** Concurrent deliveries (default 2). */
  readonly connections?: number;
  /** Batches that may wait before {@linkcode DurableDelivery.ready} holds (default 8). */
  readonly maxQueuedBatches?: number;
  /** Immediate retries of a failed batch before spilling (default 3). */
  readonly retries?: number;
  /** First backoff delay in ms (default 100); doubles per attempt. */
  readonly backoffMs?: number;
  /** Longest backoff delay in ms while probing a down store (default 30,000). */
  readonly maxBackoffMs?: number;
  /** Prefix of log messages (default `durable delivery`). */
  readonly label?: string;
  /** The store's name in log messages (default `store`). */
  readonly target?: string;
  /** Where problems are reported (default `console.warn`). */
  readonly log?: (message: string) => void;
}

/** Counters of a {@linkcode DurableDelivery}. */
export interface DeliveryStats {
  /** Rows newly stored (replays included). */
  readonly persisted: number;
  /** Rows and batches written to spill segments. */
  readonly spilledRows: number;
  readonly spilledBatches: number;
  /** Rows replayed from spill segments into the store. */
  readonly replayedRows: number;
  /** Rows lost: the spill bound was reached, or the store refused the data. */
  readonly droppedRows: number;
  /** Batches waiting or being delivered. */
  readonly queuedBatches: number;
  /** Whether the store is currently believed reachable. */
  readonly available: boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function count(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
  return v;
}

/** Delivers batches to a store with retry, spill and replay (see the module documentation). */
export class DurableDelivery<B extends SpillableBatch = SpillableBatch> {
  readonly #options: DurableDeliveryOptions<B>;
  readonly #connections: number;
  readonly #maxQueued: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #log: (message: string) => void;
  readonly #label: string;
  readonly #target: string;
  readonly #spill: SpillStore;

  readonly #queue: B[] = [];
  #inflight = 0;
  #spilling = 0;
  #idleWaiters: (() => void)[] = [];
  #readyWaiters: (() => void)[] = [];

  #available = true;
  #probing: Promise<void> | undefined;
  #closed = false;
  #interruptProbe: (() => void) | undefined;
  readonly #started: Promise<void>;

  #persisted = 0;
  #spilledRows = 0;
  #spilledBatches = 0;
  #replayedRows = 0;
  #droppedRows = 0;

  constructor(options: DurableDeliveryOptions<B>) {
    if (typeof options.deliver !== "function" || typeof options.probe !== "function") {
      throw new TypeError("DurableDelivery needs deliver and probe functions");
    }
    this.#options = options;
    this.#connections = Math.max(1, count("connections", options.connections, 2));
    this.#maxQueued = Math.max(1, count("maxQueuedBatches", options.maxQueuedBatches, 8));
    this.#retries = count("retries", options.retries, 3);
    this.#backoffMs = count("backoffMs", options.backoffMs, 100);
    this.#maxBackoffMs = count("maxBackoffMs", options.maxBackoffMs, 30_000);
    this.#log = options.log ?? ((m) => console.warn(m));
    this.#label = options.label ?? "durable delivery";
    this.#target = options.target ?? "store";
    this.#spill = new SpillStore(
      options.spillDir,
      count("maxSpillBytes", options.maxSpillBytes, 1 << 30),
    );
    // Replay what an earlier process left behind before delivering anything new.
    this.#started = this.#spill.list().then((segments) => {
      if (segments.length > 0) {
        this.#available = false;
        this.#log(`${this.#label}: ${segments.length} spill segments found, replaying`);
        this.#startProbe();
      }
    });
  }

  /** The spill directory. */
  get spillDir(): string {
    return this.#spill.dir;
  }

  /** Current counters. */
  stats(): DeliveryStats {
    return {
      persisted: this.#persisted,
      spilledRows: this.#spilledRows,
      spilledBatches: this.#spilledBatches,
      replayedRows: this.#replayedRows,
      droppedRows: this.#droppedRows,
      queuedBatches: this.#queue.length + this.#inflight,
      available: this.#available,
    };
  }

  /** Rows made durable so far: stored or spilled (a flush's count is a difference of two). */
  get durableRows(): number {
    return this.#persisted + this.#spilledRows;
  }

  /** Resolves when fewer than `maxQueuedBatches` batches wait (backpressure). */
  ready(): Promise<void> {
    if (this.#queue.length < this.#maxQueued) return Promise.resolve();
    return new Promise((r) => this.#readyWaiters.push(r));
  }

  /**
   * Queues a batch; never blocks. Past twice `maxQueuedBatches` (a producer that ignores
   * {@linkcode DurableDelivery.ready}) the batch goes to the spill directory instead of
   * memory.
   */
  enqueue(batch: B): void {
    if (this.#closed) throw new TypeError(`${this.#label} is closed`);
    if (this.#queue.length >= 2 * this.#maxQueued) {
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

  /** Resolves when every batch queued so far is stored, spilled or counted as dropped. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inflight === 0 && this.#spilling === 0) {
      return Promise.resolve();
    }
    return new Promise((r) => this.#idleWaiters.push(r));
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

  /** Waits for queued batches, then stops the probe. Spill segments stay on disk. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.idle();
    this.#closed = true;
    this.#interruptProbe?.();
    if (this.#probing) await this.#probing;
  }

  #pump(): void {
    while (this.#inflight < this.#connections && this.#queue.length > 0) {
      const batch = this.#queue.shift()!;
      this.#inflight++;
      this.#deliver(batch).catch((e) => {
        this.#droppedRows += batch.rows;
        this.#log(`${this.#label}: lost a batch of ${batch.rows} rows: ${(e as Error).message}`);
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

  async #deliver(batch: B): Promise<void> {
    await this.#started;
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (!this.#available) break;
      try {
        // Read the counter after the await: deliveries run concurrently.
        const inserted = await this.#options.deliver(batch);
        this.#persisted += inserted;
        return;
      } catch (e) {
        lastError = e;
        if (!this.#options.isUnavailable(e)) return this.#refused(batch, e);
        if (attempt < this.#retries) {
          await sleep(Math.min(this.#backoffMs * 2 ** attempt, this.#maxBackoffMs));
        }
      }
    }
    if (this.#available) {
      this.#available = false;
      this.#log(
        `${this.#label}: ${this.#target} unavailable (${(lastError as Error)?.message}); ` +
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

  async #spillBatch(batch: B): Promise<void> {
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
      this.#log(`${this.#label}: spill write failed: ${(e as Error).message}`);
    }
    if (stored) {
      this.#spilledRows += batch.rows;
      this.#spilledBatches++;
      if (this.#available) this.#startProbe(0);
    } else {
      this.#droppedRows += batch.rows;
      this.#log(
        `${this.#label}: dropped ${batch.rows} ${batch.table} rows: spill directory full ` +
          `(${this.#spill.maxBytes} bytes) or not writable`,
      );
    }
  }

  #refused(batch: B, error: unknown): void {
    this.#droppedRows += batch.rows;
    this.#log(
      `${this.#label}: the ${this.#target} refused a batch of ${batch.rows} ${batch.table} ` +
        `rows (${(error as { code?: string }).code ?? ""} ${(error as Error).message}); dropped`,
    );
  }

  /** Starts the background probe that replays spill segments once the store answers. */
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
          await this.#options.probe();
        } catch (e) {
          if (this.#closed) return;
          if (this.#options.isUnavailable(e)) continue;
          throw e;
        }
        if (await this.#replaySegments()) return;
        if (this.#closed) return;
      }
    })().catch((e) => {
      this.#log(`${this.#label}: replay stopped: ${(e as Error).message}`);
    }).finally(() => {
      this.#probing = undefined;
    });
  }

  /** Replays every segment; `true` when none is left and the store is available again. */
  async #replaySegments(): Promise<boolean> {
    while (true) {
      const segments = await this.#spill.list();
      if (segments.length === 0) {
        if (this.#spilling > 0) {
          await sleep(10);
          continue;
        }
        if (!this.#available) this.#log(`${this.#label}: ${this.#target} available again`);
        this.#available = true;
        return true;
      }
      for (const segment of segments) {
        if (!await this.#replaySegment(segment)) return false;
      }
    }
  }

  async #replaySegment(segment: SpillSegment): Promise<boolean> {
    const bytes = await this.#spill.read(segment);
    const batch = this.#options.restore
      ? this.#options.restore(segment, bytes)
      : { ...segment, chunks: [bytes] } as unknown as B;
    if (batch === undefined) {
      this.#log(`${this.#label}: ignoring spill segment for unknown table: ${segment.path}`);
      await Deno.rename(segment.path, segment.path + ".unknown");
      return true;
    }
    try {
      const inserted = await this.#options.deliver(batch);
      this.#replayedRows += inserted;
      this.#persisted += inserted;
    } catch (e) {
      if (this.#options.isUnavailable(e)) return false;
      this.#refused(batch, e);
      await Deno.rename(segment.path, segment.path + ".refused");
      return true;
    }
    await this.#spill.remove(segment);
    return true;
  }
}
