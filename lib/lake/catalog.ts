/**
 * The lake's catalog: lists a table's instruments and partitions and counts their rows
 * (every table with its own folder, the `year=` partitions of bars too),
 * for everyone who needs to know what the lake holds (the exporter verifies its exports
 * with it instead of opening its own DuckDB over the lake's files).
 * @module
 */
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import {
  type InstrumentDir,
  type LakePartition,
  listInstrumentDirs,
  listPartitions,
  type PartitionedTable,
  type PartitionFilter,
} from "./layout.ts";

/** What a lake holds, read from its folders and file footers. */
export class LakeCatalog {
  /** Lake root folder. */
  readonly root: string;
  #duck: Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> | undefined;

  constructor(root: string) {
    this.root = root;
  }

  /** The instruments with a folder in table `kind`, by exchange then symbol. */
  instruments(kind: PartitionedTable): Promise<InstrumentDir[]> {
    return listInstrumentDirs(this.root, kind);
  }

  /** The partitions of one instrument in `kind` that can hold rows in the filter's range. */
  partitions(kind: PartitionedTable, filter: PartitionFilter): Promise<LakePartition[]> {
    return listPartitions(this.root, kind, filter);
  }

  /**
   * The rows of one instrument in table `kind` stored in the partitions (UTC days, or
   * years of bars) that the filter's range touches (whole partitions: the exporter
   * verifies day by day).
   */
  async countRows(kind: PartitionedTable, filter: PartitionFilter): Promise<number> {
    const files = (await this.partitions(kind, filter)).flatMap((p) => p.files);
    if (files.length === 0) return 0;
    const { connection } = await (this.#duck ??= openDuckDb());
    const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(", ");
    const reader = await connection.runAndReadAll(
      `select count(*)::double from read_parquet([${list}], hive_partitioning = false)`,
    );
    return Number(reader.getRows()[0][0]);
  }

  /** Releases the catalog's DuckDB connection (a later count opens a new one). */
  async close(): Promise<void> {
    const duck = this.#duck;
    this.#duck = undefined;
    if (!duck) return;
    const { instance, connection } = await duck;
    connection.closeSync();
    instance.closeSync();
  }
}

async function openDuckDb(): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  // Loaded on first use, not with the library.
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(":memory:");
  return { instance, connection: await instance.connect() };
}
