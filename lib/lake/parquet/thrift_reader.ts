/**
 * The Thrift compact protocol read into a lossless tree ({@linkcode ThriftNode}) and written
 * back from it ({@linkcode encodeStruct}): what a Parquet footer holds, fields this module
 * does not know included, so that a footer can be read, a few fields changed and written
 * again without losing the others.
 * @module
 */

/** The compact protocol's type ids. */
export const COMPACT = {
  boolTrue: 1,
  boolFalse: 2,
  i8: 3,
  i16: 4,
  i32: 5,
  i64: 6,
  double: 7,
  binary: 8,
  list: 9,
  set: 10,
  map: 11,
  struct: 12,
} as const;

/** A struct's fields by id. */
export type ThriftFields = Map<number, ThriftNode>;

/** One decoded value with its type (i64 as a `bigint`, exactly). */
export type ThriftNode =
  | { readonly t: "bool"; readonly v: boolean }
  | { readonly t: "i8" | "i16" | "i32" | "double"; readonly v: number }
  | { readonly t: "i64"; readonly v: bigint }
  | { readonly t: "binary"; readonly v: Uint8Array }
  | { readonly t: "list" | "set"; readonly elem: number; readonly v: ThriftNode[] }
  | {
    readonly t: "map";
    readonly key: number;
    readonly value: number;
    readonly v: [ThriftNode, ThriftNode][];
  }
  | { readonly t: "struct"; readonly v: ThriftFields };

const MAX_DEPTH = 64;

/** Reads compact-protocol values from `bytes` (throws `RangeError` on malformed input). */
class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  u8(): number {
    if (this.pos >= this.bytes.length) throw new RangeError("thrift: unexpected end of data");
    return this.bytes[this.pos++];
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.u8();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new RangeError("thrift: varint too long");
    }
  }

  small(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new RangeError("thrift: varint too long");
    }
  }

  zigzag32(): number {
    const n = this.small();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  zigzag64(): bigint {
    const n = this.varint();
    return (n >> 1n) ^ -(n & 1n);
  }

  take(length: number): Uint8Array {
    if (length < 0 || this.pos + length > this.bytes.length) {
      throw new RangeError("thrift: binary runs past the end of data");
    }
    const out = this.bytes.slice(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
}

function readValue(r: Reader, type: number, depth: number, inList: boolean): ThriftNode {
  if (depth > MAX_DEPTH) throw new RangeError("thrift: nesting too deep");
  switch (type) {
    case COMPACT.boolTrue:
    case COMPACT.boolFalse:
      // In a struct field the type is the value; in a list each bool is a byte.
      return { t: "bool", v: inList ? r.u8() === COMPACT.boolTrue : type === COMPACT.boolTrue };
    case COMPACT.i8: {
      const b = r.u8();
      return { t: "i8", v: b > 127 ? b - 256 : b };
    }
    case COMPACT.i16:
      return { t: "i16", v: r.zigzag32() };
    case COMPACT.i32:
      return { t: "i32", v: r.zigzag32() };
    case COMPACT.i64:
      return { t: "i64", v: r.zigzag64() };
    case COMPACT.double: {
      const b = r.take(8);
      return { t: "double", v: new DataView(b.buffer).getFloat64(0, true) };
    }
    case COMPACT.binary:
      return { t: "binary", v: r.take(r.small()) };
    case COMPACT.list:
    case COMPACT.set: {
      const head = r.u8();
      const elem = head & 0x0f;
      const size = (head >> 4) === 15 ? r.small() : head >> 4;
      const v: ThriftNode[] = [];
      for (let i = 0; i < size; i++) v.push(readValue(r, elem, depth + 1, true));
      return { t: type === COMPACT.list ? "list" : "set", elem, v };
    }
    case COMPACT.map: {
      const size = r.small();
      if (size === 0) return { t: "map", key: 0, value: 0, v: [] };
      const kinds = r.u8();
      const key = kinds >> 4;
      const value = kinds & 0x0f;
      const v: [ThriftNode, ThriftNode][] = [];
      for (let i = 0; i < size; i++) {
        v.push([readValue(r, key, depth + 1, true), readValue(r, value, depth + 1, true)]);
      }
      return { t: "map", key, value, v };
    }
    case COMPACT.struct:
      return { t: "struct", v: readFields(r, depth + 1) };
    default:
      throw new RangeError(`thrift: unknown compact type ${type}`);
  }
}

function readFields(r: Reader, depth: number): ThriftFields {
  const fields: ThriftFields = new Map();
  let last = 0;
  for (;;) {
    const head = r.u8();
    if (head === 0) return fields;
    const type = head & 0x0f;
    const delta = head >> 4;
    const id = delta === 0 ? r.zigzag32() : last + delta;
    fields.set(id, readValue(r, type, depth, false));
    last = id;
  }
}

/** Decodes one struct at the start of `bytes`; resolves to its fields and its byte length. */
export function decodeStruct(bytes: Uint8Array): { fields: ThriftFields; length: number } {
  const r = new Reader(bytes);
  const fields = readFields(r, 0);
  return { fields, length: r.pos };
}

/** A growable byte buffer for {@linkcode encodeStruct}. */
class Out {
  bytes = new Uint8Array(1024);
  length = 0;

  reserve(more: number): void {
    if (this.length + more <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + more));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  u8(b: number): void {
    this.reserve(1);
    this.bytes[this.length++] = b & 0xff;
  }

  varint(n: bigint): void {
    let v = n;
    while (v >= 0x80n) {
      this.u8(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.u8(Number(v));
  }

  zigzag(n: bigint): void {
    this.varint(n >= 0n ? n << 1n : ((-n) << 1n) - 1n);
  }

  append(b: Uint8Array): void {
    this.reserve(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }
}

function typeId(node: ThriftNode): number {
  switch (node.t) {
    case "bool":
      return node.v ? COMPACT.boolTrue : COMPACT.boolFalse;
    default:
      return COMPACT[node.t];
  }
}

function writeValue(out: Out, node: ThriftNode, inList: boolean): void {
  switch (node.t) {
    case "bool":
      if (inList) out.u8(node.v ? COMPACT.boolTrue : COMPACT.boolFalse);
      return;
    case "i8":
      return out.u8(node.v);
    case "i16":
    case "i32":
      return out.zigzag(BigInt(node.v));
    case "i64":
      return out.zigzag(node.v);
    case "double": {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, node.v, true);
      return out.append(b);
    }
    case "binary":
      out.varint(BigInt(node.v.length));
      return out.append(node.v);
    case "list":
    case "set":
      if (node.v.length < 15) out.u8((node.v.length << 4) | node.elem);
      else {
        out.u8(0xf0 | node.elem);
        out.varint(BigInt(node.v.length));
      }
      for (const item of node.v) writeValue(out, item, true);
      return;
    case "map":
      out.varint(BigInt(node.v.length));
      if (node.v.length === 0) return;
      out.u8((node.key << 4) | node.value);
      for (const [k, v] of node.v) {
        writeValue(out, k, true);
        writeValue(out, v, true);
      }
      return;
    case "struct":
      return writeFields(out, node.v);
  }
}

function writeFields(out: Out, fields: ThriftFields): void {
  let last = 0;
  for (const id of [...fields.keys()].sort((a, b) => a - b)) {
    const node = fields.get(id)!;
    const type = typeId(node);
    const delta = id - last;
    if (delta > 0 && delta <= 15) out.u8((delta << 4) | type);
    else {
      out.u8(type);
      out.zigzag(BigInt(id));
    }
    last = id;
    writeValue(out, node, false);
  }
  out.u8(0);
}

/** The compact-protocol bytes of a struct of `fields` (fields in id order). */
export function encodeStruct(fields: ThriftFields): Uint8Array {
  const out = new Out();
  writeFields(out, fields);
  return out.bytes.slice(0, out.length);
}
