/**
 * The buffer writer's encoder: validated events become `COPY` text lines, grouped into
 * batches per table; a window of recent trade keys per instrument drops re-sent trades
 * before they are encoded (see `writer.ts`).
 * @module
 */
import type {
  Bar,
  BookChange,
  BookSnapshot,
  FeedStatus,
  MarketEvent,
  Quote,
  Trade,
} from "../market/types.ts";
import {
  bookText,
  digestOf,
  quoteText,
  statusText,
  storedBookLevels,
} from "../market/event_digest.ts";
import type { TableName } from "../schema/tables.ts";
import type { ActionRow } from "../schema/action_rows.ts";
import { CopyBuffer, copyText, TimestampFormatter } from "./_copy.ts";

/** A sealed batch of COPY text of one table. */
export interface Batch {
  readonly table: TableName;
  readonly chunks: readonly Uint8Array[];
  readonly rows: number;
  readonly minTs: number;
  readonly maxTs: number;
}

/** Accumulates the COPY text of one table. */
class BatchBuilder {
  readonly table: TableName;
  readonly buf = new CopyBuffer();
  rows = 0;
  minTs = Infinity;
  maxTs = -Infinity;

  constructor(table: TableName) {
    this.table = table;
  }

  /** Records a row whose text was just written to `buf`. */
  added(ts: number): void {
    this.rows++;
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
  }

  seal(): Batch {
    const batch: Batch = {
      table: this.table,
      chunks: [this.buf.take()],
      rows: this.rows,
      minTs: this.minTs,
      maxTs: this.maxTs,
    };
    this.rows = 0;
    this.minTs = Infinity;
    this.maxTs = -Infinity;
    return batch;
  }
}

/**
 * The last trades of one instrument (ids and times in arrival order), to drop re-sent
 * trades cheaply. A trade newer than every remembered one costs two array stores; an older
 * one (a re-send, or out of order) scans the window.
 */
class RecentTrades {
  readonly #ts: Float64Array;
  readonly #ids: string[];
  #pos = 0;
  #count = 0;
  #maxTs = -Infinity;

  constructor(size: number) {
    this.#ts = new Float64Array(size);
    this.#ids = new Array<string>(size);
  }

  /** Remembers the trade; returns `true` if it was remembered already. */
  seen(id: string, ts: number): boolean {
    const size = this.#ts.length;
    if (ts <= this.#maxTs) {
      // Same time as the newest: scan the burst of equal times at the tail only.
      const burstOnly = ts === this.#maxTs;
      for (let k = 1, i = this.#pos - 1; k <= this.#count; k++, i--) {
        if (i < 0) i += size;
        const t = this.#ts[i];
        if (t === ts && this.#ids[i] === id) return true;
        if (burstOnly && t !== ts) break;
      }
    } else {
      this.#maxTs = ts;
    }
    this.#ts[this.#pos] = ts;
    this.#ids[this.#pos] = id;
    this.#pos = this.#pos + 1 === size ? 0 : this.#pos + 1;
    if (this.#count < size) this.#count++;
    return false;
  }
}

/** Options of a {@linkcode RowEncoder}. */
export interface RowEncoderOptions {
  /** Rows per batch. */
  readonly batchRows: number;
  /** Recent trade keys remembered per instrument (0: none). */
  readonly dedupeWindow: number;
  /** Levels per side kept from a book snapshot. */
  readonly bookDepth: number;
  /** Receives each batch that is full. */
  readonly sealed: (batch: Batch) => void;
}

/** Encodes events (already validated) into batches of COPY text per table. */
export class RowEncoder {
  readonly #batchRows: number;
  readonly #dedupeWindow: number;
  readonly #bookDepth: number;
  readonly #sealed: (batch: Batch) => void;
  readonly #builders = new Map<TableName, BatchBuilder>();
  #trades: BatchBuilder | undefined;
  readonly #recent = new Map<string, RecentTrades>();
  readonly #tsFormat = new TimestampFormatter();
  readonly #recvFormat = new TimestampFormatter();
  readonly #escaped = new Map<string, string>();
  #lastRecentKey = "";
  #lastRecent: RecentTrades | undefined;

  constructor(options: RowEncoderOptions) {
    this.#batchRows = options.batchRows;
    this.#dedupeWindow = options.dedupeWindow;
    this.#bookDepth = options.bookDepth;
    this.#sealed = options.sealed;
  }

  /** Seals every batch that holds rows. */
  sealAll(): void {
    for (const builder of this.#builders.values()) {
      if (builder.rows > 0) this.#sealed(builder.seal());
    }
  }

  #builder(table: TableName): BatchBuilder {
    let b = this.#builders.get(table);
    if (!b) this.#builders.set(table, b = new BatchBuilder(table));
    return b;
  }

  #text(value: string): string {
    let out = this.#escaped.get(value);
    if (out === undefined) {
      out = copyText(value);
      if (this.#escaped.size > 10_000) this.#escaped.clear();
      this.#escaped.set(value, out);
    }
    return out;
  }

  trade(t: Trade): boolean {
    if (this.#dedupeWindow > 0) {
      const instrument = t.exchange + "\u0000" + t.symbol;
      let recent = this.#lastRecent;
      if (instrument !== this.#lastRecentKey || !recent) {
        recent = this.#recent.get(instrument);
        if (!recent) this.#recent.set(instrument, recent = new RecentTrades(this.#dedupeWindow));
        this.#lastRecentKey = instrument;
        this.#lastRecent = recent;
      }
      if (recent.seen(t.id, t.ts)) return false;
    }
    const builder = this.#trades ??= this.#builder("trades");
    const buf = builder.buf;
    buf.cached(t.exchange);
    buf.byte(9);
    buf.cached(t.symbol);
    buf.byte(9);
    buf.text(t.id);
    buf.byte(9);
    buf.number(t.price);
    buf.byte(9);
    buf.number(t.size);
    buf.byte(9);
    buf.cached(t.side);
    buf.byte(9);
    buf.timestamp(t.ts, 0);
    buf.byte(9);
    buf.timestamp(t.recvTs, 1);
    buf.byte(9);
    buf.byte(t.backfilled === true ? 116 : 102); // 't' | 'f'
    buf.byte(10);
    builder.added(t.ts);
    if (builder.rows >= this.#batchRows) this.#sealed(builder.seal());
    return true;
  }

  /** Header columns plus the digest of `rest` (the remaining columns' text). */
  #line(e: MarketEvent, rest: string): string {
    return this.#text(e.exchange) + "\t" + this.#text(e.symbol) + "\t" +
      this.#tsFormat.format(e.ts) + "\t" + this.#recvFormat.format(e.recvTs) + "\t" +
      digestOf(rest) + "\t" + rest + "\n";
  }

  book(
    e: BookChange | BookSnapshot,
    table: "book_changes" | "book_snapshots",
  ): void {
    const rest = bookText(
      storedBookLevels(e, this.#bookDepth),
      e.kind === "book_change"
        ? [e.firstSequence, e.sequence, e.checksum]
        : [e.sequence, e.checksum],
    );
    this.#add(table, this.#line(e, rest), e.ts);
  }

  quote(q: Quote): void {
    // Sizes may be NaN: not given by the venue (see `Quote`); stored as float8 'NaN'.
    const rest = quoteText(q.bidPrice, q.bidSize, q.askPrice, q.askSize);
    this.#add("quotes", this.#line(q, rest), q.ts);
  }

  bar(b: Bar): void {
    const line = this.#text(b.exchange) + "\t" + this.#text(b.symbol) + "\t" + b.interval +
      "\t" + this.#tsFormat.format(b.ts) + "\t" + this.#recvFormat.format(b.recvTs) + "\t" +
      b.open + "\t" + b.high + "\t" + b.low + "\t" + b.close + "\t" + b.volume + "\t" +
      (Number.isFinite(b.vwap) ? String(b.vwap) : "\\N") + "\t" + b.trades + "\n";
    this.#add("bars", line, b.ts);
  }

  status(s: FeedStatus): void {
    const rest = statusText(s.status, s.reason ?? "");
    this.#add("event_log", this.#line(s, rest), s.ts);
  }

  /** A row of an action log (`actions`: source and run in the instrument columns). */
  action(r: ActionRow): void {
    const line = this.#text(r.source) + "\t" + this.#text(r.run) + "\t" + r.seq + "\t" +
      this.#tsFormat.format(r.ts) + "\t" + copyText(r.action) + "\t" + copyText(r.payload) +
      "\t" + r.prev + "\t" + r.hash + "\n";
    this.#add("actions", line, r.ts);
  }

  #add(table: TableName, line: string, ts: number): void {
    const builder = this.#builder(table);
    builder.buf.raw(line);
    builder.added(ts);
    if (builder.rows >= this.#batchRows) this.#sealed(builder.seal());
  }
}
