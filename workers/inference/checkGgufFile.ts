/**
 * A bounded check of a GGUF file's header before node-llama-cpp sees it. node-llama-cpp reads
 * the metadata with counts and lengths taken from the file as they are: a corrupt header (a
 * count of 2^60 array elements, a string "as long as" the disk) makes it allocate without bound
 * instead of failing. Here every count and length is checked against the bytes the file has left
 * and against sane limits, every type code against the known ones, and every tensor against the
 * data section; the first thing wrong is reported, synchronously, in tens of milliseconds for a real model's metadata.
 *
 * GGUF v2/v3: magic "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata entries
 * (u64-length key, u32 type, value; arrays: u32 element type, u64 count, elements); tensor infos
 * (name, u32 n_dims, u64 dims, u32 ggml type, u64 offset); padding to `general.alignment` (32);
 * then the tensor data.
 */
import fs from "node:fs";

/** Why a file is not a loadable GGUF (the message names the first problem found). */
export class GgufHeaderError extends Error {}

const LIMITS = {
  tensors: 1_000_000,
  metadata: 1_000_000,
  /** A key or a tensor name (llama.cpp's tensor names are at most 64 bytes). */
  nameBytes: 65_536,
  /** One string value (a chat template, an embedded tokenizer.json). */
  stringBytes: 256 * 1024 * 1024,
  arrayItems: 100_000_000,
  dims: 4,
};

/** Metadata value types. */
const T = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
/** Highest ggml tensor type code node-llama-cpp 3.21 knows (new ones appear; leave room). */
const MAX_GGML_TYPE = 63;
/** Bytes per block and elements per block of the ggml types whose layout is certain (others: size not checked). */
const BLOCK: Record<number, [bytes: number, elements: number]> = {
  0: [4, 1], // F32
  1: [2, 1], // F16
  2: [18, 32], // Q4_0
  3: [20, 32], // Q4_1
  6: [22, 32], // Q5_0
  7: [24, 32], // Q5_1
  8: [34, 32], // Q8_0
  10: [84, 256], // Q2_K
  11: [110, 256], // Q3_K
  12: [144, 256], // Q4_K
  13: [176, 256], // Q5_K
  14: [210, 256], // Q6_K
  24: [1, 1], // I8
  25: [2, 1], // I16
  26: [4, 1], // I32
  27: [8, 1], // I64
  28: [8, 1], // F64
  30: [2, 1], // BF16
};

/** Sequential reads of a file through a 1 MiB buffer; every read is checked against the file's size. */
class Reader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  get left(): number {
    return this.size - this.pos;
  }

  private need(n: number, what: string): Buffer {
    if (n > this.left) throw new GgufHeaderError(`the file ends inside ${what} (offset ${this.pos}, ${n} bytes needed, ${this.left} left)`);
    const inBuf = this.pos - this.bufStart;
    if (inBuf < 0 || inBuf + n > this.buf.length) {
      const len = Math.min(Math.max(n, 1024 * 1024), this.left);
      const fresh = Buffer.alloc(len);
      const bytesRead = fs.readSync(this.fd, fresh, 0, len, this.pos);
      if (bytesRead < n) throw new GgufHeaderError(`could not read ${what} at offset ${this.pos}`);
      this.buf = fresh.subarray(0, bytesRead);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  u32(what: string): number {
    return this.need(4, what).readUInt32LE(0);
  }

  /** A u64 that must fit in a JS number (2^53). */
  u64(what: string): number {
    const b = this.need(8, what);
    const lo = b.readUInt32LE(0);
    const hi = b.readUInt32LE(4);
    if (hi > 0x1fffff) throw new GgufHeaderError(`${what} is ${b.readBigUInt64LE(0)}, far beyond any real value`);
    return hi * 2 ** 32 + lo;
  }

  skip(n: number, what: string): void {
    if (n > this.left) throw new GgufHeaderError(`the file ends inside ${what} (offset ${this.pos}, ${n} bytes needed, ${this.left} left)`);
    this.pos += n;
  }

  /** A u64-length string: decoded when `decode`, else skipped. */
  string(what: string, maxBytes: number, decode: boolean): string {
    const len = this.u64(`the length of ${what}`);
    if (len > maxBytes) throw new GgufHeaderError(`${what} claims ${len} bytes (at most ${maxBytes} expected)`);
    if (!decode) {
      this.skip(len, what);
      return "";
    }
    return this.need(len, what).toString("utf8");
  }
}

function skipValue(r: Reader, type: number, key: string, depth: number): number | undefined {
  const fixed = FIXED_SIZE[type];
  if (fixed !== undefined) {
    if (type === T.u32) return r.u32(`the value of ${key}`);
    r.skip(fixed, `the value of ${key}`);
    return undefined;
  }
  if (type === T.string) {
    r.string(`the value of ${key}`, LIMITS.stringBytes, false);
    return undefined;
  }
  if (type !== T.array) throw new GgufHeaderError(`${key} has an unknown value type ${type}`);
  if (depth > 0) throw new GgufHeaderError(`${key} nests arrays deeper than GGUF allows`);
  const itemType = r.u32(`the item type of ${key}`);
  const count = r.u64(`the length of ${key}`);
  if (count > LIMITS.arrayItems) throw new GgufHeaderError(`${key} claims ${count} items (at most ${LIMITS.arrayItems} expected)`);
  // Each item takes at least this many bytes: a count the rest of the file cannot hold is corrupt.
  const least = FIXED_SIZE[itemType] ?? (itemType === T.string ? 8 : itemType === T.array ? 12 : 0);
  if (least === 0) throw new GgufHeaderError(`${key} is an array of an unknown type ${itemType}`);
  if (count * least > r.left) throw new GgufHeaderError(`${key} claims ${count} items, more than the rest of the file can hold`);
  if (FIXED_SIZE[itemType] !== undefined) r.skip(count * least, key);
  else for (let i = 0; i < count; i++) skipValue(r, itemType, `${key}[${i}]`, depth + 1);
  return undefined;
}

/** Check `file`'s GGUF header and tensor table; throws GgufHeaderError naming the first problem. */
export function checkGgufFile(file: string): { version: number; tensors: number; metadata: number } {
  const fd = fs.openSync(file, "r");
  try {
    const r = new Reader(fd, fs.fstatSync(fd).size);
    const magic = r.u32("the magic bytes");
    if (magic !== 0x46554747) throw new GgufHeaderError("it does not start with the GGUF magic bytes");
    const version = r.u32("the version");
    if (version !== 2 && version !== 3) throw new GgufHeaderError(`unsupported GGUF version ${version} (2 and 3 are)`);
    const tensors = r.u64("the tensor count");
    const metadata = r.u64("the metadata count");
    if (tensors === 0 || tensors > LIMITS.tensors)
      throw new GgufHeaderError(tensors === 0 ? "it has no tensors (a vocabulary-only file?)" : `it claims ${tensors} tensors`);
    if (metadata > LIMITS.metadata) throw new GgufHeaderError(`it claims ${metadata} metadata entries`);
    if (metadata * 13 + tensors * 32 > r.left) throw new GgufHeaderError("its counts are larger than the file can hold");
    let alignment = 32;
    for (let i = 0; i < metadata; i++) {
      const key = r.string(`metadata key ${i}`, LIMITS.nameBytes, true);
      const type = r.u32(`the type of ${key}`);
      const value = skipValue(r, type, key, 0);
      if (key === "general.alignment" && value !== undefined) alignment = value;
    }
    if (alignment === 0 || alignment > 1024 * 1024 || (alignment & (alignment - 1)) !== 0)
      throw new GgufHeaderError(`general.alignment ${alignment} is not a power of two`);
    const infos: Array<{ name: string; offset: number; bytes?: number }> = [];
    for (let i = 0; i < tensors; i++) {
      const name = r.string(`the name of tensor ${i}`, LIMITS.nameBytes, true);
      const dims = r.u32(`the dimension count of ${name}`);
      if (dims < 1 || dims > LIMITS.dims) throw new GgufHeaderError(`tensor ${name} claims ${dims} dimensions`);
      let elements = 1;
      for (let d = 0; d < dims; d++) {
        elements *= r.u64(`a dimension of ${name}`);
        if (elements > Number.MAX_SAFE_INTEGER) throw new GgufHeaderError(`tensor ${name} is impossibly large`);
      }
      const type = r.u32(`the type of ${name}`);
      if (type > MAX_GGML_TYPE) throw new GgufHeaderError(`tensor ${name} has an unknown type ${type}`);
      const offset = r.u64(`the offset of ${name}`);
      const block = BLOCK[type];
      infos.push({ name, offset, bytes: block ? Math.ceil(elements / block[1]) * block[0] : undefined });
    }
    const dataStart = Math.ceil(r.pos / alignment) * alignment;
    const dataBytes = r.size - dataStart;
    for (const t of infos) {
      const end = t.offset + (t.bytes ?? 1);
      if (dataBytes < 0 || end > dataBytes)
        throw new GgufHeaderError(`tensor ${t.name} lies beyond the end of the file (the file is truncated or corrupt)`);
    }
    return { version, tensors, metadata };
  } finally {
    fs.closeSync(fd);
  }
}
