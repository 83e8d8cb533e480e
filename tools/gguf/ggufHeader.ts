/**
 * Serializes everything a GGUF v3 file holds before its tensor data: magic, version, counts, the
 * metadata, and each tensor's name, dims, type and offset, padded to the alignment. It also places
 * the tensors in the data section (each at an aligned offset), which fixes the file's size.
 *
 * Why its own module: the layout is computed from shapes and types alone, before any tensor data
 * exists, so the writer can stream the data afterwards and tools can ask for the size up front.
 */
import { ByteBuilder } from "./ByteBuilder.ts";
import { elementCount, GGML_TYPE, type GgmlTypeName, tensorDataBytes } from "./ggmlType.ts";
import { GGUF_VALUE_TYPE, type GgufScalarTypeName, type GgufValue } from "./ggufValue.ts";

/** What the header says about a tensor. */
export interface GgufTensorInfo {
  name: string;
  /** GGUF dims, fastest-varying first. */
  dims: readonly number[];
  type: GgmlTypeName;
}

/** A tensor with its place in the data section. */
export type PlacedTensor<T extends GgufTensorInfo> = T & {
  count: number;
  bytes: number;
  /** Offset relative to the start of the data section. */
  offset: number;
};

export interface GgufHeader<T extends GgufTensorInfo> {
  /** Everything before the data section, padded to the alignment. */
  header: Buffer;
  placed: Array<PlacedTensor<T>>;
  /** The file's size in bytes. */
  total: number;
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Serializes the header of a file with this metadata (in insertion order) and these tensors (in order). */
export function encodeGgufHeader<T extends GgufTensorInfo>(
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly T[],
  alignment: number,
): GgufHeader<T> {
  const placed: Array<PlacedTensor<T>> = [];
  let dataBytes = 0;
  for (const t of tensors) {
    const bytes = tensorDataBytes(t.dims, t.type);
    placed.push({ ...t, count: elementCount(t.dims), bytes, offset: dataBytes });
    dataBytes = alignUp(dataBytes + bytes, alignment);
  }

  const b = new ByteBuilder();
  b.u8(0x47);
  b.u8(0x47);
  b.u8(0x55);
  b.u8(0x46); // "GGUF"
  b.u32(3);
  b.u64(tensors.length);
  b.u64(metadata.size);
  for (const [key, value] of metadata) {
    b.string(key);
    b.u32(GGUF_VALUE_TYPE[value.type]);
    if (value.type === "array") {
      b.u32(GGUF_VALUE_TYPE[value.itemType]);
      const items = value.value as ArrayLike<unknown>;
      b.u64(items.length);
      for (let i = 0; i < items.length; i++) writeScalar(b, value.itemType, items[i], key);
    } else {
      writeScalar(b, value.type, value.value, key);
    }
  }
  for (const t of placed) {
    b.string(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(GGML_TYPE[t.type]);
    b.u64(t.offset);
  }
  b.zeros(alignUp(b.length, alignment) - b.length);
  const header = b.bytes();
  return { header, placed, total: header.length + dataBytes };
}

/** Writes one metadata scalar after checking that the value is of its declared type. */
function writeScalar(b: ByteBuilder, type: GgufScalarTypeName, v: unknown, key: string): void {
  const bad = (): never => {
    throw new TypeError(`GGUF metadata "${key}": value ${String(v)} is not a valid ${type}`);
  };
  switch (type) {
    case "u8":
    case "i8":
    case "u16":
    case "i16":
    case "u32":
    case "i32": {
      if (typeof v !== "number" || !Number.isInteger(v)) bad();
      b[type](v as number);
      return;
    }
    case "f32":
    case "f64":
      if (typeof v !== "number") bad();
      b[type](v as number);
      return;
    case "u64":
    case "i64":
      if (typeof v !== "bigint") bad();
      b[type](v as bigint);
      return;
    case "bool":
      if (typeof v !== "boolean") bad();
      b.bool(v as boolean);
      return;
    case "string":
      if (typeof v !== "string") bad();
      b.string(v as string);
      return;
  }
}
