/**
 * The Parquet lake: one table per kind of market data (`trades`, `quotes`,
 * `book_snapshots`, `book_changes`, `event_log`), each partitioned by exchange, symbol and
 * UTC date under `ROOT/<kind>/exchange=X/symbol=Y/date=YYYY-MM-DD/part-<unique>.parquet`,
 * written idempotently and atomically by {@linkcode ParquetLake}, fed by
 * {@linkcode LakeSink}, read by `LakeRepository` (`lib/repositories`).
 *
 * Trades are keyed by their venue id; the other kinds by
 * `(exchange, symbol, ts, recv_ts, digest)`, where {@linkcode eventRow} computes the digest
 * exactly as the PostgreSQL buffer does, so a row exported from the buffer and the same
 * event written directly are stored once.
 *
 * @example
 * ```ts ignore
 * import { ParquetLake } from "./mod.ts";
 * const lake = await ParquetLake.open({ root: "data/lake" });
 * await lake.writeEvents(events); // trades, quotes, book snapshots and changes, statuses
 * await lake.close();
 * ```
 * @module
 */
export {
  type CompactionReport,
  type CompactOptions,
  type LakeRejection,
  ParquetLake,
  type ParquetLakeOptions,
  type TradeColumns,
  type WriteCounts,
} from "./parquet_lake.ts";
export {
  describeOwner,
  LakeLockedError,
  type LockOwner,
  WRITER_LOCK_FILE,
  WriterLock,
  type WriterLockOptions,
} from "./writer_lock.ts";
export {
  LakeSink,
  type LakeSinkOptions,
  type LakeSinkStored,
  type StoredEventKind,
} from "./lake_sink.ts";
export { BookColumns, type BookKind, Growable, type StoredBookFields } from "./book_columns.ts";
export { type TradeRejection, tradeRejection, tradeValueRejection } from "./validate.ts";
export {
  type BookChangeRow,
  type BookSnapshotRow,
  DEFAULT_BOOK_DEPTH,
  EVENT_KINDS,
  type EventKind,
  eventKindOf,
  type EventRow,
  eventRow,
  type EventRowOf,
  type EventRowOptions,
  type EventRowRejection,
  eventRowRejection,
  type QuoteRow,
  type RowEvent,
  type RowHeader,
  type StatusRow,
} from "./event_rows.ts";
export {
  dayOfMicros,
  dayToDate,
  type InstrumentDir,
  instrumentDir,
  isLakeKind,
  isPartitionedTable,
  kindRoot,
  LAKE_KINDS,
  type LakeKind,
  type LakePartition,
  listAllPartitions,
  listInstrumentDirs,
  listPartitions,
  listTradePartitions,
  MICROS_PER_DAY,
  partitionDir,
  PARTITIONED_TABLES,
  type PartitionedTable,
  type PartitionFilter,
  type TradePartition,
  tradesRoot,
} from "./layout.ts";
export { type LakeRun, listLakeRuns, readLakeActions } from "./action_reader.ts";
export { scanLakeFiles, type ScanLakeFilesOptions } from "./scan_files.ts";
export {
  type EncodeTarget,
  getDefaultEncoder,
  jsEncoder,
  type ParquetEncoder,
  polarsEncoder,
  setDefaultEncoder,
} from "./parquet_encoder.ts";
export { type ColumnTable, type LakeColumn } from "./column_table.ts";
