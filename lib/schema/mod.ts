/**
 * One description per stored table ({@linkcode TABLES}: key, file order, columns with their
 * SQL/DuckDB/Polars/Arrow types, the buffer's COPY column list) and the one set of
 * validation rules every store applies, with one vocabulary of rejection reasons
 * ({@linkcode Rejection}). Connection-wide rows (symbol `*`) have one representation in
 * every store ({@linkcode CONNECTION_WIDE}).
 *
 * @example
 * ```ts
 * import { eventRejection, latestValidMicros, TABLES } from "./mod.ts";
 * import assert from "node:assert/strict";
 * assert.equal(TABLES.quotes.copyColumns.split(", ").length, 9);
 * const t0 = 1_700_000_000_000_000;
 * const trade = {
 *   kind: "trade", exchange: "coinbase", symbol: "BTC/USD", id: "1", price: 1, size: 1,
 *   side: "buy", ts: t0, recvTs: t0,
 * } as const;
 * assert.equal(eventRejection(trade, latestValidMicros(t0)), "symbol");
 * ```
 * @module
 */
export {
  type ColumnSpec,
  type ColumnType,
  DIGEST_TABLES,
  type DigestTable,
  isDigestTable,
  isLakeTable,
  isTableName,
  LAKE_TABLES,
  type LakeTable,
  type MarketTable,
  TABLE_NAMES,
  type TableName,
  tableOfEvent,
  TABLES,
  type TableSpec,
} from "./tables.ts";
export {
  CONNECTION_WIDE,
  CONNECTION_WIDE_DIR,
  isConnectionWide,
  isStorableSymbol,
  isValidExchange,
  isValidSymbol,
  symbolDir,
  symbolFromDir,
} from "./instrument.ts";
export { actionLines, type ActionRow, actionRows, runIdOf, type RunName } from "./action_rows.ts";
export {
  type ActionRowFields,
  actionRowRejection,
  barValuesRejection,
  digestRejection,
  eventRejection,
  headerRejection,
  isValidTime,
  isValidTradeId,
  latestValidMicros,
  levelListsRejection,
  levelPairsRejection,
  MAX_FUTURE_MICROS,
  quoteValuesRejection,
  type Rejection,
  rejectionDetail,
  REJECTIONS,
  sequenceRejection,
  statusValuesRejection,
  tableNameOf,
  timesRejection,
  tradeRejection,
  tradeValuesRejection,
} from "./rules.ts";
