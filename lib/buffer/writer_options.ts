/**
 * The options and counters of the buffer writer (`writer.ts`).
 * @module
 */
import type postgres from "postgres";
import type { Rejection } from "../schema/rules.ts";

/** Options for `PostgresWriter`. */
export interface PostgresWriterOptions {
  /** Connection URL (`postgres://...`); the writer owns and closes its client. */
  readonly url?: string;
  /** Or an existing npm:postgres client (not closed by the writer). */
  readonly sql?: postgres.Sql;
  /** Rows per COPY batch (default 20,000). */
  readonly batchRows?: number;
  /** Concurrent COPY streams (default 2). */
  readonly connections?: number;
  /** Batches that may wait before `PostgresWriter.ready` holds producers (default 8). */
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

/** Counters of a `PostgresWriter`. */
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
