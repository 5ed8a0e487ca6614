/**
 * The Thrift compact protocol, as much as Parquet's footer and page headers need: a struct
 * is written as a list of typed fields ({@linkcode ThriftField}), nested structs and lists
 * included.
 * @module
 */
import type { ByteWriter } from "./byte_writer.ts";

/** A Thrift value: its compact-protocol type and the value. */
export type ThriftValue =
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "i32"; readonly value: number }
  | { readonly type: "i64"; readonly value: number }
  | { readonly type: "binary"; readonly value: Uint8Array | string }
  | { readonly type: "struct"; readonly value: ThriftStruct }
  | { readonly type: "list"; readonly element: ListElement; readonly value: readonly unknown[] };

/** The element types of the lists Parquet uses. */
export type ListElement = "i32" | "binary" | "struct";

/** A struct: fields by id, `undefined` fields left out (optional fields not set). */
export type ThriftStruct = readonly (readonly [id: number, value: ThriftValue | undefined])[];

const TYPE = {
  true: 1,
  false: 2,
  i32: 5,
  i64: 6,
  binary: 8,
  list: 9,
  struct: 12,
} as const;

const utf8 = new TextEncoder();

/** Zigzag varint of a safe integer (negative ones too). */
function zigzag(out: ByteWriter, value: number): void {
  out.varint(value >= 0 ? value * 2 : -value * 2 - 1);
}

function fieldType(v: ThriftValue): number {
  if (v.type === "bool") return v.value ? TYPE.true : TYPE.false;
  return TYPE[v.type];
}

/** Writes `struct` in the compact protocol, its stop byte included. */
export function writeStruct(out: ByteWriter, struct: ThriftStruct): void {
  let last = 0;
  for (const [id, value] of struct) {
    if (value === undefined) continue;
    const type = fieldType(value);
    const delta = id - last;
    if (delta > 0 && delta <= 15) out.u8((delta << 4) | type);
    else {
      out.u8(type);
      zigzag(out, id);
    }
    last = id;
    if (value.type !== "bool") writeValue(out, value);
  }
  out.u8(0);
}

function writeValue(out: ByteWriter, v: ThriftValue): void {
  switch (v.type) {
    case "i32":
    case "i64":
      return zigzag(out, v.value);
    case "binary": {
      const bytes = typeof v.value === "string" ? utf8.encode(v.value) : v.value;
      out.varint(bytes.length);
      return out.append(bytes);
    }
    case "struct":
      return writeStruct(out, v.value);
    case "list":
      return writeList(out, v.element, v.value);
    default:
      throw new TypeError(`thrift: cannot write a ${v.type} here`);
  }
}

function writeList(out: ByteWriter, element: ListElement, items: readonly unknown[]): void {
  const type = TYPE[element];
  if (items.length < 15) out.u8((items.length << 4) | type);
  else {
    out.u8(0xf0 | type);
    out.varint(items.length);
  }
  for (const item of items) {
    writeValue(out, { type: element, value: item } as ThriftValue);
  }
}

/** Field value helpers (`undefined` in, `undefined` out: an optional field left unset). */
export const t = {
  bool: (value: boolean): ThriftValue => ({ type: "bool", value }),
  i32: (value: number): ThriftValue => ({ type: "i32", value }),
  i64: (value: number): ThriftValue => ({ type: "i64", value }),
  binary: (value: Uint8Array | string | undefined): ThriftValue | undefined =>
    value === undefined ? undefined : { type: "binary", value },
  struct: (value: ThriftStruct): ThriftValue => ({ type: "struct", value }),
  list: (element: ListElement, value: readonly unknown[]): ThriftValue => ({
    type: "list",
    element,
    value,
  }),
};
