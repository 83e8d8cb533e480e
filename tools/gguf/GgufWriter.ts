/**
 * A small GGUF v3 writer: metadata of every scalar type and arrays of scalars, tensors in
 * F32, F16 and Q8_0, alignment 32 by default.
 *
 * Tensor data is streamed: each tensor supplies its values through a `fill` callback that
 * is asked for consecutive chunks of elements, which are encoded to the tensor's type and
 * written at their position in the file. Tensor sizes (and so the offsets in the header)
 * are computed from shapes and types before anything is written, so memory use stays at a
 * few chunks whatever the model size.
 */
import { open } from "node:fs/promises";

/** GGUF metadata value type ids. */
export const GGUF_VALUE_TYPE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufScalarTypeName = Exclude<keyof typeof GGUF_VALUE_TYPE, "array">;
type NumberTypeName = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
type BigIntTypeName = "u64" | "i64";

/** A metadata value with its GGUF type. Arrays hold scalars of one type (no nesting). */
export type GgufValue =
  | { type: NumberTypeName; value: number }
  | { type: BigIntTypeName; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: NumberTypeName; value: ArrayLike<number> }
  | { type: "array"; itemType: BigIntTypeName; value: ArrayLike<bigint> }
  | { type: "array"; itemType: "bool"; value: ArrayLike<boolean> }
  | { type: "array"; itemType: "string"; value: ArrayLike<string> };

/** Shorthands for metadata values: `gv.u32(3)`, `gv.array("string", ["a", "b"])`. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: "u8", value }),
  i8: (value: number): GgufValue => ({ type: "i8", value }),
  u16: (value: number): GgufValue => ({ type: "u16", value }),
  i16: (value: number): GgufValue => ({ type: "i16", value }),
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  f64: (value: number): GgufValue => ({ type: "f64", value }),
  u64: (value: bigint): GgufValue => ({ type: "u64", value }),
  i64: (value: bigint): GgufValue => ({ type: "i64", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  string: (value: string): GgufValue => ({ type: "string", value }),
  array(itemType: GgufScalarTypeName, value: ArrayLike<number> | ArrayLike<bigint> | ArrayLike<boolean> | ArrayLike<string>): GgufValue {
    return { type: "array", itemType, value } as GgufValue;
  },
};

/** ggml tensor type ids this writer can encode. */
export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPE;

export const GGUF_DEFAULT_ALIGNMENT = 32;
export const Q8_0_BLOCK_SIZE = 32;
/** Bytes per Q8_0 block: an f16 scale and 32 int8 quants. */
export const Q8_0_BLOCK_BYTES = 34;

/**
 * Fills `out` with the tensor's elements `start .. start + out.length - 1` (flat, in GGUF
 * order: dims[0] fastest). Called with consecutive, non-overlapping ranges from 0 upwards.
 */
export type TensorFill = (out: Float32Array, start: number) => void;

export interface GgufTensorSpec {
  name: string;
  /** GGUF dims, fastest-varying first. */
  dims: readonly number[];
  type: GgmlTypeName;
  fill: TensorFill;
}

export interface GgufWriteOptions {
  /** Called after each written chunk with bytes written so far and the final file size. */
  onProgress?: (done: number, total: number) => void;
  /** Elements per encoded chunk (rounded down to a multiple of 32). Default 1 Mi. */
  chunkElements?: number;
}

export interface GgufWriteResult {
  path: string;
  bytes: number;
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
}

/** Number of elements of a tensor with these dims. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Size in bytes of a tensor's data (without alignment padding). */
export function tensorDataBytes(dims: readonly number[], type: GgmlTypeName): number {
  const n = elementCount(dims);
  switch (type) {
    case "F32":
      return n * 4;
    case "F16":
      return n * 2;
    case "Q8_0":
      return (n / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_BYTES;
  }
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

// ---------------------------------------------------------------------------------------
// Encoders

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits of `x`, round to nearest even; overflow → ±Inf, NaN kept. */
export function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  return f32BitsToF16Bits(u32Scratch[0]!);
}

function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // too small even for a subnormal: ±0
    mant |= 0x800000; // implicit leading 1
    const shift = 14 - e; // 14..24
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half; // a carry into the exponent field is the right result
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // may carry up to Inf: right
  return sign | h;
}

/** The number a binary16 bit pattern stands for. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Encodes `src` to binary16 bit patterns in `dst` (same length). */
export function encodeF16(src: Float32Array, dst: Uint16Array): void {
  if (dst.length < src.length) throw new RangeError("encodeF16: destination too short");
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = f32BitsToF16Bits(bits[i]!);
}

export function decodeF16(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]!);
  return out;
}

/**
 * Encodes `src` (length a multiple of 32) as Q8_0 blocks into `dst`
 * (`src.length / 32 * 34` bytes): per block an f16 scale d = max|x| / 127 (little endian),
 * then 32 int8 quants round(x / d).
 */
export function encodeQ8_0(src: Float32Array, dst: Uint8Array): void {
  const n = src.length;
  if (n % Q8_0_BLOCK_SIZE !== 0) throw new RangeError("encodeQ8_0: length must be a multiple of 32");
  const blocks = n / Q8_0_BLOCK_SIZE;
  if (dst.length < blocks * Q8_0_BLOCK_BYTES) throw new RangeError("encodeQ8_0: destination too short");
  const q = new Int8Array(dst.buffer, dst.byteOffset, dst.length);
  let o = 0;
  for (let b = 0, i0 = 0; b < blocks; b++, i0 += Q8_0_BLOCK_SIZE) {
    let amax = 0;
    for (let i = i0; i < i0 + Q8_0_BLOCK_SIZE; i++) {
      const a = Math.abs(src[i]!);
      if (a > amax) amax = a;
    }
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    const dh = f32ToF16Bits(d);
    dst[o] = dh & 0xff;
    dst[o + 1] = dh >>> 8;
    o += 2;
    for (let i = i0; i < i0 + Q8_0_BLOCK_SIZE; i++) {
      // round half away from zero, as ggml's roundf
      const v = src[i]! * id;
      q[o++] = v >= 0 ? Math.floor(v + 0.5) : -Math.floor(-v + 0.5);
    }
  }
}

/** Decodes `count` values (a multiple of 32) from Q8_0 blocks. */
export function decodeQ8_0(src: Uint8Array, count: number): Float32Array {
  if (count % Q8_0_BLOCK_SIZE !== 0) throw new RangeError("decodeQ8_0: count must be a multiple of 32");
  const q = new Int8Array(src.buffer, src.byteOffset, src.length);
  const out = new Float32Array(count);
  let o = 0;
  for (let i = 0; i < count; i += Q8_0_BLOCK_SIZE) {
    const d = f16BitsToF32(src[o]! | (src[o + 1]! << 8));
    o += 2;
    for (let j = 0; j < Q8_0_BLOCK_SIZE; j++) out[i + j] = d * q[o++]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Header serialization

class ByteBuilder {
  private buf = Buffer.allocUnsafe(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.buf.writeInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.buf.writeInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  u64(v: bigint | number): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.buf.writeBigInt64LE(v, this.length);
    this.length += 8;
  }
  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }
  string(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.u64(n);
    this.reserve(n);
    this.buf.write(s, this.length, n, "utf8");
    this.length += n;
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

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

interface PlacedTensor extends GgufTensorSpec {
  count: number;
  bytes: number;
  /** Offset relative to the start of the data section. */
  offset: number;
}

/**
 * Collects metadata and tensor specs, then writes a GGUF v3 file in one streaming pass.
 */
export class GgufWriter {
  readonly alignment: number;
  private readonly metadata = new Map<string, GgufValue>();
  private readonly tensors: GgufTensorSpec[] = [];

  constructor(options: { alignment?: number } = {}) {
    const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(alignment) || alignment < 8 || alignment % 8 !== 0) {
      throw new RangeError(`GGUF alignment must be a positive multiple of 8, got ${alignment}`);
    }
    this.alignment = alignment;
    if (alignment !== GGUF_DEFAULT_ALIGNMENT) this.metadata.set("general.alignment", gv.u32(alignment));
  }

  /** Sets (or replaces) a metadata key. Keys are written in insertion order. */
  setMetadata(key: string, value: GgufValue): this {
    if (key === "general.alignment" && value.type === "u32" && value.value !== this.alignment) {
      throw new RangeError("set general.alignment through the constructor's alignment option");
    }
    this.metadata.set(key, value);
    return this;
  }

  addTensor(spec: GgufTensorSpec): this {
    if (this.tensors.some((t) => t.name === spec.name)) {
      throw new Error(`GGUF tensor "${spec.name}" added twice`);
    }
    if (spec.dims.length < 1 || spec.dims.length > 4) {
      throw new RangeError(`GGUF tensor "${spec.name}": 1 to 4 dims, got ${spec.dims.length}`);
    }
    if (spec.dims.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new RangeError(`GGUF tensor "${spec.name}": dims must be positive integers`);
    }
    if (spec.type === "Q8_0" && spec.dims[0]! % Q8_0_BLOCK_SIZE !== 0) {
      throw new RangeError(`GGUF tensor "${spec.name}": Q8_0 needs dims[0] to be a multiple of 32, got ${spec.dims[0]}`);
    }
    this.tensors.push(spec);
    return this;
  }

  get tensorCount(): number {
    return this.tensors.length;
  }

  /** Serializes everything before the data section, padded to the alignment. */
  private header(): { header: Buffer; placed: PlacedTensor[]; total: number } {
    const placed: PlacedTensor[] = [];
    let dataBytes = 0;
    for (const t of this.tensors) {
      const bytes = tensorDataBytes(t.dims, t.type);
      placed.push({ ...t, count: elementCount(t.dims), bytes, offset: dataBytes });
      dataBytes = alignUp(dataBytes + bytes, this.alignment);
    }

    const b = new ByteBuilder();
    b.u8(0x47);
    b.u8(0x47);
    b.u8(0x55);
    b.u8(0x46); // "GGUF"
    b.u32(3);
    b.u64(this.tensors.length);
    b.u64(this.metadata.size);
    for (const [key, value] of this.metadata) {
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
    b.zeros(alignUp(b.length, this.alignment) - b.length);
    const header = b.bytes();
    return { header, placed, total: header.length + dataBytes };
  }

  /** The size in bytes the file will have, computed without writing anything. */
  fileSize(): number {
    return this.header().total;
  }

  /**
   * Everything the file will hold before the tensor data (padded to the alignment) and the
   * file's size, computed without writing anything.
   */
  layout(): { header: Buffer; bytes: number } {
    const { header, total } = this.header();
    return { header, bytes: total };
  }

  /**
   * Writes the file at `path` (created or truncated). Not atomic: write to a temporary
   * name and rename if readers may look at `path` meanwhile.
   */
  async write(path: string, options: GgufWriteOptions = {}): Promise<GgufWriteResult> {
    const { header, placed, total } = this.header();
    const chunk = Math.max(Q8_0_BLOCK_SIZE, Math.floor((options.chunkElements ?? 1 << 20) / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_SIZE);
    const values = new Float32Array(chunk);
    // two output buffers: one is encoded while the other is being written
    const outs = [Buffer.alloc(chunk * 4), Buffer.alloc(chunk * 4)] as const;
    const fh = await open(path, "w");
    let done = 0;
    try {
      await fh.write(header, 0, header.length, 0);
      done = header.length;
      options.onProgress?.(done, total);
      let pending: Promise<unknown> | null = null;
      let turn = 0;
      for (const t of placed) {
        let pos = header.length + t.offset;
        for (let start = 0; start < t.count; start += chunk) {
          const len = Math.min(chunk, t.count - start);
          const vals = len === chunk ? values : values.subarray(0, len);
          t.fill(vals, start);
          const out = outs[turn]!;
          turn ^= 1;
          let nbytes: number;
          switch (t.type) {
            case "F32":
              nbytes = len * 4;
              new Float32Array(out.buffer, out.byteOffset, len).set(vals);
              break;
            case "F16":
              nbytes = len * 2;
              encodeF16(vals, new Uint16Array(out.buffer, out.byteOffset, len));
              break;
            case "Q8_0":
              if (len % Q8_0_BLOCK_SIZE !== 0) throw new Error("unreachable: Q8_0 chunk not whole blocks");
              nbytes = (len / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_BYTES;
              encodeQ8_0(vals, out);
              break;
          }
          if (pending) await pending;
          const at = pos;
          pending = fh.write(out, 0, nbytes, at).then(() => {
            done += nbytes;
            options.onProgress?.(done, total);
          });
          pos += nbytes;
        }
      }
      if (pending) await pending;
      // alignment padding between and after tensors: holes read back as zeros
      await fh.truncate(total);
      options.onProgress?.(total, total);
    } finally {
      await fh.close();
    }
    return { path, bytes: total, dataOffset: header.length };
  }
}
