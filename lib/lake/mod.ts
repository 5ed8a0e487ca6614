/**
 * The Parquet lake: trades partitioned by exchange, symbol and UTC date under
 * `ROOT/trades/exchange=X/symbol=Y/date=YYYY-MM-DD/part-<unique>.parquet`, written
 * idempotently and atomically by {@linkcode ParquetLake}, fed by {@linkcode LakeSink}, read
 * by `LakeRepository` (`lib/repositories`).
 *
 * @example
 * ```ts ignore
 * import { ParquetLake } from "./mod.ts";
 * const lake = await ParquetLake.open({ root: "data/lake" });
 * await lake.writeTrades(trades);
 * await lake.close();
 * ```
 * @module
 */
export {
  type CompactionReport,
  type CompactOptions,
  ParquetLake,
  type ParquetLakeOptions,
  type TradeColumns,
  type WriteCounts,
} from "./parquet_lake.ts";
export { LakeSink, type LakeSinkOptions } from "./lake_sink.ts";
export { type TradeRejection, tradeRejection, tradeValueRejection } from "./validate.ts";
export {
  dayOfMicros,
  dayToDate,
  type InstrumentDir,
  instrumentDir,
  listInstrumentDirs,
  listTradePartitions,
  MICROS_PER_DAY,
  partitionDir,
  type PartitionFilter,
  type TradePartition,
  tradesRoot,
} from "./layout.ts";
