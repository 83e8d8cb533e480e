/**
 * A small GGUF v3 writer: metadata of every scalar type and arrays of scalars, tensors in
 * F32, F16 and Q8_0, alignment 32 by default.
 *
 * Tensor data is streamed: each tensor supplies its values through a `fill` callback that
 * is asked for consecutive chunks of elements, which are encoded to the tensor's type and
 * written at their position in the file. Tensor sizes (and so the offsets in the header)
 * are computed from shapes and types before anything is written, so memory use stays at a
 * few chunks whatever the model size.
 *
 * The parts live beside it: metadata values (ggufValue), the header and tensor layout
 * (ggufHeader), tensor types and their encoders (ggmlType, halfFloat, q8_0); this module
 * re-exports them so a model builder needs one import.
 */
import { open } from "node:fs/promises";
import { encodeTensorChunk, type GgmlTypeName } from "./ggmlType.ts";
import { encodeGgufHeader, type GgufHeader } from "./ggufHeader.ts";
import { type GgufValue, gv } from "./ggufValue.ts";
import { Q8_0_BLOCK_SIZE } from "./q8_0.ts";

export { elementCount, GGML_TYPE, type GgmlTypeName, tensorDataBytes } from "./ggmlType.ts";
export { GGUF_VALUE_TYPE, type GgufScalarTypeName, type GgufValue, gv } from "./ggufValue.ts";
export { decodeF16, encodeF16, f16BitsToF32, f32ToF16Bits } from "./halfFloat.ts";
export { decodeQ8_0, encodeQ8_0, Q8_0_BLOCK_BYTES, Q8_0_BLOCK_SIZE } from "./q8_0.ts";

export const GGUF_DEFAULT_ALIGNMENT = 32;

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
  private header(): GgufHeader<GgufTensorSpec> {
    return encodeGgufHeader(this.metadata, this.tensors, this.alignment);
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
          const nbytes = encodeTensorChunk(t.type, vals, out);
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
