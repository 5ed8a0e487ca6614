/**
 * The streaming half of the binary COPY readers: runs `COPY (...) TO STDOUT (FORMAT binary)`
 * through npm:postgres, gathers the per-row CopyData messages into a staging buffer and hands
 * complete tuples to a decoder, a megabyte at a time.
 * @module
 */
import type postgres from "postgres";

/** Microseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_MICROS = 946_684_800_000_000;
const SIGNATURE_BYTES = 11 + 4 + 4; // "PGCOPY\n\xff\r\n\0", flags, header extension length

/**
 * Decodes one complete tuple whose first field's length word starts at `at` (the tuple's
 * field count is already checked). Fields are `int32 length` (-1 for null) then the bytes.
 */
export type TupleDecoder = (view: DataView, buf: Uint8Array, at: number) => void;

/** Microseconds since the Unix epoch of a binary `timestamptz` at `at`. */
export function timestampAt(view: DataView, at: number): number {
  return view.getInt32(at) * 4_294_967_296 + view.getUint32(at + 4) + PG_EPOCH_MICROS;
}

/**
 * Runs a binary COPY and calls `decode` for every tuple, in order; `afterBatch` runs after
 * each staged batch was decoded (to flush per-batch state such as gathered text). Resolves
 * to the number of tuples.
 */
export async function readCopyBinary(
  sql: postgres.Sql,
  query: string,
  decode: TupleDecoder,
  afterBatch?: () => void,
): Promise<number> {
  const stream = await sql.unsafe(query).readable();
  const parser = new BinaryCopyParser(decode);
  const parse = (buf: Uint8Array) => parser.parse(buf);

  // npm:postgres emits one 'data' event per CopyData message, that is one per row: rows are
  // gathered into a staging buffer and parsed a megabyte at a time. ('data' events also
  // cost less than async iteration.)
  let staging = new Uint8Array(1 << 20);
  let staged = 0;
  const drain = () => {
    const used = parse(staging.subarray(0, staged));
    afterBatch?.();
    staging.copyWithin(0, used, staged);
    staged -= used;
  };
  await new Promise<void>((resolve, reject) => {
    const readable = stream as unknown as NodeJS.ReadableStream;
    readable.on("data", (chunk: Uint8Array) => {
      try {
        if (staged + chunk.length > staging.length) {
          drain();
          if (staged + chunk.length > staging.length) {
            const bigger = new Uint8Array(Math.max(staging.length * 2, staged + chunk.length));
            bigger.set(staging.subarray(0, staged));
            staging = bigger;
          }
        }
        staging.set(chunk, staged);
        staged += chunk.length;
      } catch (e) {
        reject(e);
      }
    });
    readable.on("error", reject);
    readable.on("end", () => {
      try {
        drain();
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  });
  // npm:postgres pauses the socket when a push fills the stream's buffer and resumes it in
  // the stream's read(); when that happens on the last chunk, the connection stays paused
  // and the next query on it never completes. Resume it explicitly.
  (stream as unknown as { _read?: () => void })._read?.();
  if (!parser.done) throw new Error("COPY binary stream ended without its trailer");
  return parser.tuples;
}

/** Parses binary `COPY` data: the header, then tuples until the trailer. */
class BinaryCopyParser {
  readonly #decode: TupleDecoder;
  #headerDone = false;
  /** The trailer was read. */
  done = false;
  /** Tuples decoded. */
  tuples = 0;

  constructor(decode: TupleDecoder) {
    this.#decode = decode;
  }

  /** Decodes the complete tuples at the start of `buf`; returns the bytes consumed. */
  parse(buf: Uint8Array): number {
    if (this.done) return buf.length;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = 0;
    if (!this.#headerDone) {
      if (buf.length < SIGNATURE_BYTES) return 0;
      pos = SIGNATURE_BYTES + view.getInt32(15);
      this.#headerDone = true;
    }
    const length = buf.length;
    while (pos + 2 <= length) {
      const fields = view.getInt16(pos);
      if (fields === -1) {
        this.done = true;
        return pos + 2;
      }
      // Check the tuple is complete before decoding anything.
      const end = tupleEnd(view, pos + 2, fields, length);
      if (end < 0) break;
      this.#decode(view, buf, pos + 2);
      this.tuples++;
      pos = end;
    }
    return pos;
  }
}

/** Where the tuple of `fields` fields starting at `p` ends, or -1 if it is not complete. */
function tupleEnd(view: DataView, p: number, fields: number, length: number): number {
  for (let f = 0; f < fields; f++) {
    if (p + 4 > length) return -1;
    const len = view.getInt32(p);
    p += 4 + (len > 0 ? len : 0);
    if (p > length) return -1;
  }
  return p;
}
