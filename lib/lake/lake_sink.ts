/**
 * An {@linkcode EventSink} that stores market events in the Parquet lake.
 * @module
 */
import type { Buffering, EventSink } from "../market/sink.ts";
import type {
  BookChange,
  BookSnapshot,
  MarketEvent,
  MarketEventKind,
  Trade,
} from "../market/types.ts";
import { nowMicros } from "../market/time.ts";
import { ParquetLake, type ParquetLakeOptions } from "./parquet_lake.ts";
import { BookColumns, type BookKind } from "./book_columns.ts";
import { type BookPieceLimits, bookPieces } from "./_book_pieces.ts";
import { TABLE_NAMES, TABLES } from "../schema/tables.ts";
import { latestValidMicros } from "../schema/rules.ts";

/**
 * The event kinds the lake has a table for: every kind (the events of the schema's tables;
 * bars go to the `year=` bars table of `bar_store.ts`).
 */
export type StoredEventKind = MarketEventKind;

const STORED_KINDS = TABLE_NAMES.map((table) => TABLES[table].event).filter((
  kind,
): kind is StoredEventKind => kind !== undefined);

/** Options of {@linkcode LakeSink}. */
export interface LakeSinkOptions {
  /** Close the lake when the sink closes (default `false`; `LakeSink.open` sets it). */
  readonly closeLake?: boolean;
  /**
   * The event kinds stored (default: every kind the lake has a table for: trades, quotes,
   * book snapshots, book changes, bars and statuses). Other events are ignored and counted.
   */
  readonly kinds?: readonly StoredEventKind[];
  /**
   * The most book rows and level values written at once (default
   * {@linkcode LakeSink.BOOK_PIECE}).
   */
  readonly bookPiece?: BookPieceLimits;
}

/** Rows newly stored by a {@linkcode LakeSink}, by table group. */
export interface LakeSinkStored {
  /** Trades. */
  trades: number;
  /** Quotes, book snapshots, book changes, bars and statuses together. */
  events: number;
}

/**
 * Buffers the events it is given and writes them to a {@linkcode ParquetLake} on `flush`:
 * trades to the `trades` table, quotes, book snapshots (cut to the lake's `bookDepth`
 * levels per side), book changes, bars and feed statuses to their tables (see
 * {@linkcode ParquetLake.writeEvents}). Kinds left out of `options.kinds` are ignored and
 * counted in {@linkcode LakeSink.ignored}.
 *
 * `flush` resolves to the rows newly stored in every table (a collector's `rows_written`,
 * the same count the PostgreSQL writer gives); trades and the other tables apart are in
 * {@linkcode LakeSink.stored}, per table in the lake's `countsByKind`. A failed flush keeps the events it could not store buffered for
 * the next one (the lake's writes are idempotent, so a retry never duplicates rows).
 * `pending` counts every buffered event, so a `SinkQueue` bounds the memory they take.
 * Book snapshots and changes are kept as {@linkcode BookColumns} from the moment they are
 * written (typed arrays, about the bytes of their numbers; the event objects are garbage
 * at once), which is what lets a collector store every book change of a busy feed.
 *
 * @example
 * ```ts ignore
 * import { LakeSink } from "./lake_sink.ts";
 * const sink = await LakeSink.open({ root: "data/lake" });
 * sink.write(events);
 * const rows = await sink.flush();
 * await sink.close();
 * ```
 */
export class LakeSink implements EventSink, Buffering {
  /** The lake written to. */
  readonly lake: ParquetLake;
  readonly #closeLake: boolean;
  readonly #kinds: ReadonlySet<string>;
  #trades: Trade[] = [];
  #events: MarketEvent[] = [];
  /** Checked book events, as columns, per table. */
  #books = new Map<BookKind, BookColumns>();
  #bookRows = 0;
  #ignored = 0;
  /** Events handed to a flush that is still storing them. */
  #inFlight = 0;
  #stored: LakeSinkStored = { trades: 0, events: 0 };
  #closed = false;
  readonly #bookPiece: BookPieceLimits;

  constructor(lake: ParquetLake, options: LakeSinkOptions = {}) {
    this.lake = lake;
    this.#bookPiece = options.bookPiece ?? LakeSink.BOOK_PIECE;
    if (!(this.#bookPiece.rows >= 1 && this.#bookPiece.levels >= 1)) {
      throw new RangeError("LakeSink: bookPiece limits must be >= 1");
    }
    this.#closeLake = options.closeLake ?? false;
    const kinds = options.kinds ?? STORED_KINDS;
    for (const kind of kinds) {
      if (!STORED_KINDS.includes(kind)) {
        throw new TypeError(`LakeSink: the lake has no table for ${kind} events`);
      }
    }
    this.#kinds = new Set(kinds);
  }

  /** Opens a lake at `options.root` and a sink that owns (and closes) it. */
  static async open(options: ParquetLakeOptions & LakeSinkOptions): Promise<LakeSink> {
    const lake = await ParquetLake.open(options);
    return new LakeSink(lake, { kinds: options.kinds, closeLake: true });
  }

  /** Events buffered or being stored by a flush (trades and the other stored kinds). */
  get pending(): number {
    return this.#trades.length + this.#events.length + this.#bookRows + this.#inFlight;
  }

  /** Events dropped so far because they are not stored (kinds left out). */
  get ignored(): number {
    return this.#ignored;
  }

  /** Rows newly stored since the sink was made. */
  get stored(): Readonly<LakeSinkStored> {
    return { ...this.#stored };
  }

  /** Buffers the events of stored kinds; others are ignored (counted). */
  write(events: readonly MarketEvent[]): void {
    if (this.#closed) throw new Error("LakeSink is closed");
    const kinds = this.#kinds;
    let latest = 0;
    for (const e of events) {
      if (!kinds.has(e.kind)) this.#ignored++;
      else if (e.kind === "trade") this.#trades.push(e);
      else if (e.kind === "book_snapshot" || e.kind === "book_change") {
        latest ||= latestValidMicros(nowMicros());
        if (!this.#appendBook(e, latest)) this.#events.push(e);
      } else this.#events.push(e);
    }
  }

  /**
   * Appends a book event to its columns when the schema's rules accept it; `false` leaves
   * it to `writeEvents`, which counts and logs the rejection.
   */
  #appendBook(e: BookSnapshot | BookChange, latest: number): boolean {
    const kind: BookKind = e.kind === "book_snapshot" ? "book_snapshots" : "book_changes";
    let columns = this.#books.get(kind);
    if (columns === undefined) {
      this.#books.set(kind, columns = new BookColumns(kind, this.lake.bookDepth));
    }
    try {
      // Checked by the schema's rules as its levels are copied.
      if (columns.appendChecked(e, latest) !== undefined) return false;
    } catch {
      return false;
    }
    this.#bookRows++;
    return true;
  }

  /**
   * Writes the buffered events; resolves to the rows newly stored by this call, trades and
   * events together (apart in {@linkcode LakeSink.stored}). Trades go first; the other
   * events follow in slices of {@linkcode LakeSink.EVENT_SLICE}, so the rows and columns
   * made for the Parquet files stay small next to what is buffered. Events stay counted in
   * `pending` until they are stored, so a `SinkQueue` bounds buffered and in-flight events
   * together.
   */
  async flush(): Promise<number> {
    const trades = this.#trades;
    const events = this.#events;
    const books = [...this.#books.values()];
    this.#trades = [];
    this.#events = [];
    this.#books = new Map();
    this.#inFlight += trades.length + events.length + this.#bookRows;
    this.#bookRows = 0;
    let written = 0;
    let tradesDone = false;
    let next = 0; // first event not yet stored
    let booksDone = 0; // rows of books[0] stored
    try {
      if (trades.length > 0) written = await this.lake.writeTrades(trades);
      this.#stored.trades += written;
      tradesDone = true;
      this.#inFlight -= trades.length;
      while (next < events.length) {
        const slice = events.slice(next, next + LakeSink.EVENT_SLICE);
        const stored = await this.lake.writeEvents(slice);
        next += slice.length;
        this.#inFlight -= slice.length;
        this.#stored.events += stored;
        written += stored;
      }
      while (books.length > 0) {
        // One instrument and a bounded piece at a time (see `_book_pieces.ts`).
        for (const piece of bookPieces(books[0], this.#bookPiece)) {
          const stored = await this.lake.writeBookColumns(piece);
          this.#inFlight -= piece.length;
          booksDone += piece.length;
          this.#stored.events += stored;
          written += stored;
        }
        books.shift();
        booksDone = 0;
      }
    } catch (err) {
      // The pieces of the first columns already stored are kept too: the lake's writes are
      // idempotent, so the retry stores them no second time.
      this.#inFlight += booksDone;
      for (const columns of books) this.#keepBooks(columns);
      if (!tradesDone) {
        this.#trades = trades.concat(this.#trades);
        this.#inFlight -= trades.length;
      }
      const kept = events.slice(next);
      this.#events = kept.concat(this.#events);
      this.#inFlight -= kept.length;
      throw err;
    }
    return written;
  }

  /** Puts book columns a failed flush could not store back in front of the new ones. */
  #keepBooks(columns: BookColumns): void {
    const later = this.#books.get(columns.kind);
    if (later) columns.absorb(later);
    this.#books.set(columns.kind, columns);
    this.#inFlight -= columns.length;
    this.#bookRows += columns.length;
  }

  /** Events written to the lake per call of `writeEvents` in a flush. */
  static readonly EVENT_SLICE = 16_384;

  /**
   * The most book rows and level values written per call of `writeBookColumns`: one
   * instrument's rows at a time, in pieces this size, so a flush's native memory stays
   * about a piece's whatever a flood buffered (`deno task bench collect`,
   * `collect_rss_10x1000_book_changes`).
   */
  static readonly BOOK_PIECE: BookPieceLimits = { rows: 16_384, levels: 262_144 };

  /** Flushes, then closes the lake if this sink owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#closeLake) await this.lake.close();
  }
}
