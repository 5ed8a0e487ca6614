/**
 * When a compaction can concatenate a partition's files instead of merging them: the files
 * have one schema, the table's file columns, and their ranges in the table's file order
 * (`TABLES[kind].fileOrder`, from the footers' min / max statistics) do not overlap, so that
 * the files one after the other, each in file order as the lake writes them, are the rows
 * the Polars merge (all rows sorted by the file order) would write.
 * @module
 */
import { TABLES } from "../schema/tables.ts";
import {
  compareStatistic,
  type ParquetFooter,
  readParquetFooter,
  statisticValue,
} from "./parquet/footer.ts";
import { sameSchema } from "./parquet/concat.ts";
import type { PartitionedTable } from "./layout.ts";
import type { PartitionFile } from "./_files.ts";

type Bound = number | bigint | Uint8Array;

/** One file's range of each file-order column. */
interface FileRange {
  readonly file: PartitionFile;
  readonly rows: number;
  readonly min: readonly Bound[];
  readonly max: readonly Bound[];
}

/** A column's min / max over the file's row groups; `undefined` if unknown or nulls occur. */
function columnRange(footer: ParquetFooter, name: string): [Bound, Bound] | undefined {
  let min: Bound | undefined;
  let max: Bound | undefined;
  for (const group of footer.rowGroups) {
    if (group.numRows === 0) continue;
    const chunk = group.columns.find((c) => c.path.length === 1 && c.path[0] === name);
    const s = chunk?.statistics;
    if (chunk === undefined || s === undefined || s.nullCount !== 0) return undefined;
    const typed = chunk.type !== 6 && chunk.type !== 7; // deprecated bounds: numbers only
    const lo = s.minValue ?? (typed ? s.min : undefined);
    const hi = s.maxValue ?? (typed ? s.max : undefined);
    if (lo === undefined || hi === undefined) return undefined;
    const a = statisticValue(chunk.type, lo);
    const b = statisticValue(chunk.type, hi);
    if (typeof a === "number" && (Number.isNaN(a) || Number.isNaN(b as number))) return undefined;
    if (min === undefined || compareStatistic(a, min) < 0) min = a;
    if (max === undefined || compareStatistic(b, max) > 0) max = b;
  }
  return min === undefined || max === undefined ? undefined : [min, max];
}

/**
 * Whether every row of `a` comes before every row of `b` in file order: for some column k,
 * `a`'s max is at most `b`'s min in each column before k and below it in column k.
 */
function before(a: FileRange, b: FileRange): boolean {
  for (let k = 0; k < a.max.length; k++) {
    const c = compareStatistic(a.max[k], b.min[k]);
    if (c < 0) return true;
    if (c > 0) return false;
  }
  return false;
}

function compareTuples(a: readonly Bound[], b: readonly Bound[]): number {
  for (let k = 0; k < a.length; k++) {
    const c = compareStatistic(a[k], b[k]);
    if (c !== 0) return c;
  }
  return 0;
}

/** The columns a file of table `kind` holds, in order. */
function fileColumns(kind: PartitionedTable): string[] {
  return TABLES[kind].columns.filter((c) => c.lake === "file").map((c) => c.name);
}

/**
 * The files of `inputs` in the order whose concatenation equals their merge (see the
 * module documentation), or `undefined` when there is none, when the new file would hold
 * more than `maxRowGroups` row groups (each flush's file is one: a merge re-cuts them into
 * large ones), or when a footer cannot be read.
 */
export async function concatOrder(
  kind: PartitionedTable,
  inputs: readonly PartitionFile[],
  maxRowGroups: number,
): Promise<PartitionFile[] | undefined> {
  const order = TABLES[kind].fileOrder;
  const columns = fileColumns(kind);
  const absent = TABLES[kind].columns.filter((c) => c.absent !== undefined).map((c) => c.name);
  let first: ParquetFooter | undefined;
  const ranges: FileRange[] = [];
  const empty: PartitionFile[] = [];
  let rowGroups = 0;
  for (const file of inputs) {
    let footer: ParquetFooter;
    try {
      footer = await readParquetFooter(file.path);
    } catch {
      return undefined; // the Polars merge reports what is wrong with the file
    }
    if (first === undefined) {
      first = footer;
      if (topLevelNames(footer).join() !== columns.join()) return undefined;
    } else if (!sameSchema(first, footer)) return undefined;
    rowGroups += footer.rowGroups.length;
    if (rowGroups > maxRowGroups) return undefined;
    // The merge reads a null of a column added later as its `absent` value: leave those to it.
    for (const name of absent) {
      for (const g of footer.rowGroups) {
        const s = g.columns.find((c) => c.path[0] === name)?.statistics;
        if (g.numRows > 0 && s?.nullCount !== 0) return undefined;
      }
    }
    if (footer.numRows === 0) {
      empty.push(file);
      continue;
    }
    const min: Bound[] = [];
    const max: Bound[] = [];
    for (const name of order) {
      const range = columnRange(footer, name);
      if (range === undefined) return undefined;
      min.push(range[0]);
      max.push(range[1]);
    }
    ranges.push({ file, rows: footer.numRows, min, max });
  }
  ranges.sort((a, b) => compareTuples(a.min, b.min));
  for (let i = 1; i < ranges.length; i++) {
    if (!before(ranges[i - 1], ranges[i])) return undefined;
  }
  return [...ranges.map((r) => r.file), ...empty];
}

/** The names of the schema root's children, in order. */
function topLevelNames(footer: ParquetFooter): string[] {
  const names: string[] = [];
  let i = 1;
  const skip = (): void => {
    const node = footer.schema[i++];
    for (let c = 0; c < (node?.numChildren ?? 0); c++) skip();
  };
  while (i < footer.schema.length) {
    names.push(footer.schema[i].name);
    skip();
  }
  return names;
}
