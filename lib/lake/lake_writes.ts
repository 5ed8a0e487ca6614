/**
 * The lake's writes of every table through one path: a batch is validated and grouped by
 * partition (`_trade_batch.ts` for trade columns, `_row_batch.ts` for event rows, book
 * columns and action rows), then each partition's rows go through the
 * {@linkcode PartitionWriter} with the table's lake key (`TableSpec.lakeKey`), its file
 * order and the stored-row range of the key's first column. Bars go through `bar_store.ts`
 * (year partitions, newest bar wins). Keeps the counts of what was written, skipped and
 * rejected, and logs each rejection reason once per table.
 * @module
 */
import type { Bar, MarketEvent } from "../market/types.ts";
import type { ActionRow } from "../schema/action_rows.ts";
import { nowMicros } from "../market/time.ts";
import { latestValidMicros, type Rejection } from "../schema/rules.ts";
import { EVENT_KINDS, type EventKind, type EventRow } from "./event_rows.ts";
import { LAKE_KINDS, type LakeKind } from "./layout.ts";
import type { PartitionWriter } from "./partition_writer.ts";
import { NativeMemory } from "./_native_memory.ts";
import type { GroupedBatch } from "./_batch.ts";
import { type ColumnTable, sliceRows, takeRows } from "./column_table.ts";
import { type ColumnBatch, describeTrade, groupTrades, tradeBatch } from "./_trade_batch.ts";
import { ACTIONS, describeRow, eventTable, groupBookColumns, groupRows } from "./_row_batch.ts";
import { splitEvents } from "./_split_events.ts";
import type { BookColumns, BookKind } from "./book_columns.ts";
import { BARS_DIR } from "./layout.ts";
import { addCounts, emptyCounts, type WriteCounts } from "./write_counts.ts";

/** Native bytes a partition's write makes besides its rows (see `#store`). */
const FILE_BYTES = 1 << 20;

/** A table the lake counts writes of: the `date=` tables and `bars`. */
export type CountedTable = LakeKind | typeof BARS_DIR;

/** Hears of a rejected row: its description (made only when logged) and the reason. */
type Reject = (describe: () => string, reason: Rejection) => void;

/** The write jobs of one lake (see the module documentation); not serialised here. */
export class LakeWrites {
  readonly #root: string;
  readonly #writer: PartitionWriter;
  readonly #bookDepth: number;
  /** Frees Polars' native memory of finished writes (see `_native_memory.ts`). */
  readonly #native = new NativeMemory();
  readonly counts: WriteCounts = emptyCounts();
  readonly countsByKind = Object.fromEntries(
    [...LAKE_KINDS, BARS_DIR].map((kind) => [kind, emptyCounts()]),
  ) as Record<CountedTable, WriteCounts>;
  /** Events skipped because the lake has no table for them. */
  ignored = 0;
  readonly #logged = new Set<string>();

  constructor(options: { root: string; writer: PartitionWriter; bookDepth: number }) {
    this.#root = options.root;
    this.#writer = options.writer;
    this.#bookDepth = options.bookDepth;
  }

  /** Stores a batch of trade columns; adds what it did to `counts`. */
  trades(batch: ColumnBatch, counts: WriteCounts): Promise<void> {
    return this.#write(
      "trades",
      counts,
      (reject) =>
        groupTrades(batch, latest(), (i, reason) => reject(() => describeTrade(batch, i), reason)),
    );
  }

  /** Stores rows of event table `kind` (validated unless `checked`). */
  eventRows(
    kind: EventKind,
    rows: readonly EventRow[],
    counts: WriteCounts,
    checked = false,
  ): Promise<void> {
    return this.#write(
      kind,
      counts,
      (reject) =>
        groupRows(eventTable(kind), rows, { checked, latest: latest() }, (row, reason) => {
          reject(() => describeRow(row), reason);
        }),
    );
  }

  /** Stores book snapshots or changes held as columns (checked when appended). */
  bookColumns(columns: BookColumns, counts: WriteCounts): Promise<void> {
    const levels = columns.bidPrices.length + columns.askPrices.length;
    const bytes = columns.length * 64 + levels * 20;
    return this.#write(columns.kind, counts, () => groupBookColumns(columns), bytes);
  }

  /** Stores action log rows in `actions`. */
  actions(rows: readonly ActionRow[], counts: WriteCounts): Promise<void> {
    return this.#write(
      "actions",
      counts,
      (reject) =>
        groupRows(ACTIONS, rows, { latest: latest() }, (row, reason) => {
          reject(() => describeRow(row), reason);
        }),
    );
  }

  /** Stores bar events through `bar_store.ts` (see `_bar_events.ts`). */
  async bars(bars: readonly Bar[], counts: WriteCounts): Promise<void> {
    const mine = emptyCounts();
    try {
      // Bars are written with Polars (`bar_store.ts`), imported when bars come.
      const { storeBarEvents } = await import("./_bar_events.ts");
      const done = await storeBarEvents(this.#root, bars, latest(), (bar, reason) => {
        this.#reject(BARS_DIR, mine, () => describeRow(bar), reason);
      });
      mine.written += done.written;
      mine.duplicates += done.duplicates;
    } finally {
      this.#add(BARS_DIR, mine, counts);
    }
  }

  /** Stores model events of any kind, each through its table's path; adds to `counts`. */
  async events(events: readonly MarketEvent[], counts: WriteCounts): Promise<void> {
    const { trades, bars, rows, books } = splitEvents(events, {
      depth: this.#bookDepth,
      latest: latest(),
      ignored: (what) => {
        this.ignored++;
        this.#warnOnce(`kind:${what}`, `lake: ignored event of kind ${what}`);
      },
      rejected: (kind, e, reason) => {
        const mine = emptyCounts();
        this.#reject(kind, mine, () => describeRow(e), reason);
        this.#add(kind, mine, counts);
      },
    });
    if (trades.length > 0) await this.trades(tradeBatch(trades), counts);
    for (const kind of EVENT_KINDS) {
      const list = rows.get(kind);
      if (list) await this.eventRows(kind, list, counts, true);
      const columns = books.get(kind as BookKind);
      if (columns) {
        await this.bookColumns(columns, counts).finally(() => columns.release());
      }
    }
    if (bars.length > 0) await this.bars(bars, counts);
  }

  /**
   * The one write path of the `date=` tables: groups the batch (rejections counted and
   * logged), stores each partition, and adds what it did to `counts` and the lake's totals.
   */
  async #write(
    kind: LakeKind,
    counts: WriteCounts,
    group: (reject: Reject) => GroupedBatch,
    bytes?: number,
  ): Promise<void> {
    const mine = emptyCounts();
    try {
      const grouped = group((describe, reason) => this.#reject(kind, mine, describe, reason));
      await this.#store(kind, grouped, mine, bytes);
    } finally {
      this.#add(kind, mine, counts);
    }
  }

  /**
   * Each partition's rows of the grouped frame (column `p` is the partition index) go
   * through the {@linkcode PartitionWriter}, keyed and ordered as the table's spec says;
   * adds rows written and duplicates skipped to `counts`.
   */
  async #store(
    kind: LakeKind,
    { table, part, partitions }: GroupedBatch,
    counts: WriteCounts,
    bytes?: number,
  ): Promise<void> {
    if (table === undefined) return;
    // Native bytes a partition's write makes: its rows, the new rows and the file's buffers
    // (three copies; list columns as their values), and about 1 MB per file written
    // (Parquet writer, zstd context), measured.
    const perRow = 3 * (bytes ?? table.rows * table.columns.length * 8) / Math.max(1, table.rows);
    for (let k = 0; k < partitions.length; k++) {
      const p = partitions[k];
      const rows = partitions.length === 1
        ? table
        : p.start !== undefined
        ? sliceRows(table, p.start, p.rows)
        : rowsOf(table, part, k, p.rows);
      let counted = false;
      const native = () => {
        if (counted) return;
        counted = true;
        this.#native.used(p.rows * perRow + FILE_BYTES);
      };
      const written = await this.#writer.write({
        kind,
        exchange: p.exchange,
        symbol: p.symbol,
        day: p.day,
        rows,
        unique: p.unique,
        sorted: p.sorted,
        low: p.low,
        high: p.high,
        // A collection (when due) runs while the file is encoded, not after it.
        whileEncoding: native,
      });
      native();
      counts.written += written;
      counts.duplicates += p.rows - written;
    }
  }

  #add(kind: CountedTable, mine: WriteCounts, counts: WriteCounts): void {
    addCounts(this.counts, mine);
    addCounts(this.countsByKind[kind], mine);
    addCounts(counts, mine);
  }

  #reject(kind: CountedTable, counts: WriteCounts, describe: () => string, reason: Rejection) {
    counts.rejected++;
    counts.rejectedBy[reason] = (counts.rejectedBy[reason] ?? 0) + 1;
    const key = `${kind}:${reason}`;
    if (this.#logged.has(key)) return;
    this.#warnOnce(
      key,
      `lake: rejected ${kind} row with invalid ${reason} (logged once per table and reason):`,
      describe(),
    );
  }

  #warnOnce(key: string, ...message: unknown[]): void {
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    console.warn(...message);
  }
}

/** The latest valid time now (the schema's `latestValidMicros`). */
function latest(): number {
  return latestValidMicros(nowMicros());
}

/** The `count` rows of `table` in partition `k` (`part[i] === k`), in batch order. */
function rowsOf(table: ColumnTable, part: Uint32Array, k: number, count: number): ColumnTable {
  const index = new Uint32Array(count);
  let j = 0;
  for (let i = 0; i < table.rows; i++) if (part[i] === k) index[j++] = i;
  return takeRows(table, index, count);
}
