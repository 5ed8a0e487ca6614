/**
 * Batches of the lake's tables keyed by their own columns rather than by a digest: `actions`
 * (key `seq`; bars have their own write path, `bar_store.ts`). Rows are validated by the schema's
 * rules, grouped by partition (exchange, symbol, UTC day of `ts`) and turned into one Polars
 * frame with the file's columns (see `lib/schema/tables.ts`) and a partition index `p` first.
 * @module
 */
import pl from "nodejs-polars";
import type { ActionRow } from "../schema/action_rows.ts";
import { actionRowRejection, type Rejection } from "../schema/rules.ts";
import { dayOfMicros } from "./layout.ts";

/** One (exchange, symbol, day) group of a keyed batch. */
export interface KeyedPartition {
  readonly exchange: string;
  readonly symbol: string;
  readonly day: number;
  rows: number;
  minTs: number;
  maxTs: number;
  /** Smallest and largest value of the key's last column (`seq` of actions). */
  minKey: number;
  maxKey: number;
  /** Rows arrived in file order. */
  sorted: boolean;
  /** Keys arrived strictly increasing. */
  unique: boolean;
}

/** A grouped batch: its frame (partition index `p` first) and its partitions. */
export interface GroupedKeyed {
  readonly frame: pl.DataFrame | undefined;
  readonly partitions: readonly KeyedPartition[];
}

/** How one keyed table reads its rows. */
interface KeyedTable<R> {
  readonly rejection: (row: R, latest: number) => Rejection | undefined;
  readonly instrument: (row: R) => readonly [string, string];
  readonly ts: (row: R) => number;
  /** The key as numbers, major first (file order). */
  readonly key: (row: R) => readonly [number, number];
  readonly frame: (rows: readonly R[], take: Uint32Array, count: number) => pl.Series[];
}

function group<R>(
  table: KeyedTable<R>,
  rows: readonly R[],
  latest: number,
  reject: (row: R, reason: Rejection) => void,
): GroupedKeyed {
  const n = rows.length;
  const take = new Uint32Array(n);
  const part = new Uint32Array(n);
  const partitions: KeyedPartition[] = [];
  const last: (readonly [number, number])[] = [];
  const index = new Map<string, number>();
  let count = 0;
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    const reason = table.rejection(row, latest);
    if (reason !== undefined) {
      reject(row, reason);
      continue;
    }
    const [exchange, symbol] = table.instrument(row);
    const ts = table.ts(row);
    const day = dayOfMicros(ts);
    const name = `${exchange}/${symbol}/${day}`;
    const key = table.key(row);
    let k = index.get(name);
    if (k === undefined) {
      k = partitions.length;
      index.set(name, k);
      partitions.push({
        exchange,
        symbol,
        day,
        rows: 0,
        minTs: ts,
        maxTs: ts,
        minKey: key[1],
        maxKey: key[1],
        sorted: true,
        unique: true,
      });
      last.push(key);
    }
    const p = partitions[k];
    if (p.rows > 0) {
      const before = last[k];
      const order = key[0] - before[0] || key[1] - before[1];
      if (order <= 0) p.unique = false;
      if (order < 0) p.sorted = false;
    }
    last[k] = key;
    p.rows++;
    p.minTs = Math.min(p.minTs, ts);
    p.maxTs = Math.max(p.maxTs, ts);
    p.minKey = Math.min(p.minKey, key[1]);
    p.maxKey = Math.max(p.maxKey, key[1]);
    take[count] = i;
    part[count] = k;
    count++;
  }
  if (count === 0) return { frame: undefined, partitions };
  const p = pl.Series("p", part.slice(0, count) as unknown as number[], pl.UInt32);
  return { frame: pl.DataFrame([p, ...table.frame(rows, take, count)]), partitions };
}

function floats<R>(
  name: string,
  rows: readonly R[],
  take: Uint32Array,
  count: number,
  f: (r: R) => number,
) {
  const out = new Float64Array(count);
  for (let j = 0; j < count; j++) out[j] = f(rows[take[j]]);
  return pl.Series(name, out, pl.Float64);
}

function times<R>(
  name: string,
  rows: readonly R[],
  take: Uint32Array,
  count: number,
  f: (r: R) => number,
) {
  return floats(name, rows, take, count, f).cast(pl.Int64).cast(pl.Datetime("us"));
}

function texts<R>(
  name: string,
  rows: readonly R[],
  take: Uint32Array,
  count: number,
  f: (r: R) => string,
) {
  const out = new Array<string>(count);
  for (let j = 0; j < count; j++) out[j] = f(rows[take[j]]);
  return pl.Series(name, out, pl.Utf8);
}

const ACTIONS: KeyedTable<ActionRow> = {
  rejection: (r, latest) => actionRowRejection(r, latest),
  instrument: (r) => [r.source, r.run],
  ts: (r) => r.ts,
  key: (r) => [0, r.seq],
  frame: (rows, take, count) => [
    floats("seq", rows, take, count, (r) => r.seq).cast(pl.Int64),
    times("ts", rows, take, count, (r) => r.ts),
    texts("action", rows, take, count, (r) => r.action),
    texts("payload", rows, take, count, (r) => r.payload),
    texts("prev", rows, take, count, (r) => r.prev),
    texts("hash", rows, take, count, (r) => r.hash),
  ],
};

/** Validates and groups action log rows for the `actions` table. */
export function groupActions(
  rows: readonly ActionRow[],
  latest: number,
  reject: (row: ActionRow, reason: Rejection) => void,
): GroupedKeyed {
  return group(ACTIONS, rows, latest, reject);
}
