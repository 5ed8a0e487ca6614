/**
 * A `List(Float64)` Polars column from one flat `Float64Array` of values and the offsets
 * of its rows, with as few copies of the values as the bindings allow. Each copy of a
 * batch's levels is new memory, and on this machine touching new memory (page faults)
 * costs more than the copy itself: 100,000 snapshots of 50 levels a side are 160 MB of
 * levels. The values go into Polars as one flat `Float64` series (one copy) and become
 * lists inside Polars:
 *
 * - every row the same length `w` (snapshots of a deep book): the flat series reshaped to
 *   rows of `w` (no copy);
 * - rows of different lengths, when padding them to the longest row at most doubles the
 *   values: padded in JS, reshaped, then each row cut to its length by Polars;
 * - otherwise (a few rows much longer than the rest, or no values at all): an Arrow list
 *   vector over the values and offsets, read by Polars through Arrow IPC.
 * @module
 */
import { Buffer } from "node:buffer";
import * as arrow from "apache-arrow";
import pl from "nodejs-polars";

/**
 * The `List(Float64)` series `name` whose row `i` holds
 * `values[offsets[i] - offsets[0] .. offsets[i + 1] - offsets[0])`; `offsets` has one
 * value more than there are rows. The arrays are only read.
 */
export function listSeries(name: string, offsets: Int32Array, values: Float64Array): pl.Series {
  const rows = offsets.length - 1;
  if (rows < 0) throw new RangeError("listSeries: offsets needs at least one value");
  const base = offsets[0];
  const total = offsets[rows] - base;
  if (total > values.length) {
    throw new RangeError(`listSeries: offsets reach ${total} values, got ${values.length}`);
  }
  let width = 0;
  let uniform = true;
  for (let i = 0; i < rows; i++) {
    const length = offsets[i + 1] - offsets[i];
    if (length > width) width = length;
    if (i > 0 && length !== offsets[1] - offsets[0]) uniform = false;
  }
  if (rows === 0 || width === 0 || (!uniform && rows * width > 2 * total)) {
    return arrowListSeries(name, offsets, values);
  }
  const asList = pl.col(name).reshape([rows, width]).cast(pl.List(pl.Float64));
  if (uniform) {
    const flat = pl.Series(name, values.subarray(0, total), pl.Float64);
    return pl.DataFrame([flat]).select(asList).getColumn(name);
  }
  const padded = new Float64Array(rows * width);
  const lengths = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const from = offsets[i] - base;
    const to = offsets[i + 1] - base;
    padded.set(values.subarray(from, to), i * width);
    lengths[i] = to - from;
  }
  const lists = pl.DataFrame([pl.Series(name, padded, pl.Float64)]).select(asList);
  // listSlice takes an expression for the length (the typings say a number).
  const length = pl.col("length") as unknown as number;
  return lists.withColumns(pl.Series("length", lengths, pl.Int32))
    .select(pl.col(name).lst.slice(0, length))
    .getColumn(name);
}

/** {@linkcode listSeries} through an Arrow list vector and Arrow IPC. */
function arrowListSeries(name: string, offsets: Int32Array, values: Float64Array): pl.Series {
  const base = offsets[0];
  const own = new Int32Array(offsets.length);
  for (let i = 0; i < offsets.length; i++) own[i] = offsets[i] - base;
  const total = own[own.length - 1];
  const child = arrow.makeData({
    type: new arrow.Float64(),
    length: total,
    data: values.subarray(0, total),
  });
  const vector = arrow.makeVector(
    arrow.makeData({
      type: new arrow.List(new arrow.Field("item", new arrow.Float64(), true)),
      length: own.length - 1,
      nullCount: 0,
      valueOffsets: own,
      child,
    }),
  );
  const ipc = arrow.tableToIPC(new arrow.Table({ [name]: vector }), "stream");
  return pl.readIPCStream(Buffer.from(ipc.buffer, ipc.byteOffset, ipc.byteLength))
    .getColumn(name);
}
