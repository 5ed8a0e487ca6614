/**
 * What the lake's writes and compactions did: counts per call and cumulative, by table.
 * @module
 */
import type { Rejection } from "../schema/rules.ts";
import type { PartitionedTable } from "./layout.ts";

/** Why a row was rejected: the schema's {@linkcode Rejection}, as in every store. */
export type LakeRejection = Rejection;

/** What writes did: cumulative in `ParquetLake.counts`, per call in `lastWrite`. */
export interface WriteCounts {
  /** Rows written to new files. */
  written: number;
  /**
   * Valid rows skipped because their key was already stored or seen: (exchange, symbol, id)
   * for trades, (exchange, symbol, ts, recv_ts, digest) for event rows.
   */
  duplicates: number;
  /** Invalid rows rejected (never written), by reason in `rejectedBy`. */
  rejected: number;
  /** Rejected rows per reason. */
  rejectedBy: Partial<Record<LakeRejection, number>>;
}

/** What one `ParquetLake.compact` call did. */
export interface CompactionReport {
  /** Partitions rewritten. */
  partitions: number;
  /** Files merged away (replaced by `partitions` new files). */
  filesMerged: number;
  /** Rows in the new files. */
  rows: number;
}

/** Options of `ParquetLake.compact`. */
export interface CompactOptions {
  /** Only this instrument (default: every partition in the lake). */
  readonly exchange?: string;
  /** Only this symbol (with `exchange`). */
  readonly symbol?: string;
  /** Only these tables (default: every table, `PARTITIONED_TABLES`: bars included). */
  readonly kinds?: readonly PartitionedTable[];
}

/** Counts of nothing yet. */
export function emptyCounts(): WriteCounts {
  return { written: 0, duplicates: 0, rejected: 0, rejectedBy: {} };
}

/** Adds `from` to `into`. */
export function addCounts(into: WriteCounts, from: WriteCounts): void {
  into.written += from.written;
  into.duplicates += from.duplicates;
  into.rejected += from.rejected;
  for (const [reason, n] of Object.entries(from.rejectedBy)) {
    const r = reason as LakeRejection;
    into.rejectedBy[r] = (into.rejectedBy[r] ?? 0) + n;
  }
}
