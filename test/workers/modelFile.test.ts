/**
 * MODEL pointing at something that is not a loadable GGUF fails at once with a named error: a
 * corrupt header (counts and lengths far beyond the file, which made node-llama-cpp allocate
 * without bound), a truncated file, garbage after the magic bytes, a directory.
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTestModel } from "../../tools/gguf/ensureTestModel.ts";
import { checkGgufFile, GgufHeaderError } from "../../workers/inference/checkGgufFile.ts";
import { resolveModelPath } from "../../workers/inference/loadModel.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";

let dir: string;
let tiny: Buffer;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "qb-gguf-"));
  tiny = await fs.readFile(await tinyModelPath());
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Little-endian GGUF pieces. */
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
const str = (s: string) => Buffer.concat([u64(BigInt(Buffer.byteLength(s))), Buffer.from(s)]);
const header = (tensors: bigint, kv: bigint) => Buffer.concat([Buffer.from("GGUF"), u32(3), u64(tensors), u64(kv)]);

async function write(name: string, data: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, data);
  return file;
}

/** A seeded byte generator (xorshift), so the "random garbage" case is the same every run. */
function garbage(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const corrupt: Array<[string, () => Buffer, RegExp]> = [
  [
    "an array claiming 2^40 strings",
    () => Buffer.concat([header(1n, 1n), str("a"), u32(9), u32(8), u64(1n << 40n), Buffer.alloc(64)]),
    /claims 1099511627776 items/,
  ],
  ["a string claiming 2^50 bytes", () => Buffer.concat([header(1n, 1n), str("a"), u32(8), u64(1n << 50n), Buffer.alloc(64)]), /claims/],
  ["a count beyond 2^53", () => Buffer.concat([header(0xffffffffffffffffn, 1n), Buffer.alloc(64)]), /far beyond any real value/],
  ["more metadata entries than the file can hold", () => Buffer.concat([header(1n, 100_000n), Buffer.alloc(64)]), /more than|larger than/],
  ["an unknown value type", () => Buffer.concat([header(1n, 1n), str("a"), u32(77), Buffer.alloc(64)]), /unknown value type 77/],
  ["an unsupported version", () => Buffer.concat([Buffer.from("GGUF"), u32(9), Buffer.alloc(64)]), /version 9/],
  ["garbage after the magic bytes", () => Buffer.concat([Buffer.from("GGUF"), garbage(64 * 1024)]), /./],
  ["the test model cut inside its metadata", () => tiny.subarray(0, 1024 * 1024), /file ends inside|more than|larger than/],
  ["the test model cut inside its tensor data", () => tiny.subarray(0, tiny.length - 4096), /beyond the end of the file/],
  ["a tensor with 9 dimensions", () => Buffer.concat([header(1n, 0n), str("t"), u32(9), Buffer.alloc(128)]), /claims 9 dimensions/],
];

describe("the GGUF header check", () => {
  it("accepts the test model in F32, F16 and Q8_0 (tensor sizes checked against the data section)", async () => {
    for (const type of ["f16", "q8_0"] as const) {
      const file = await ensureTestModel({ type, out: path.join(dir, `tiny-${type}.gguf`) });
      expect(checkGgufFile(file)).toMatchObject({ version: 3, tensors: 26 });
    }
    expect(checkGgufFile(await tinyModelPath())).toMatchObject({ version: 3, tensors: 26 });
  });

  it.each(corrupt)("refuses %s, naming the problem", async (_name, make, reason) => {
    const file = await write(`${randomUUID()}.gguf`, make());
    let caught: unknown;
    try {
      checkGgufFile(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GgufHeaderError);
    expect((caught as Error).message).toMatch(reason);
    await expect(resolveModelPath({ model: file, modelsDir: dir })).rejects.toMatchObject({ code: "MODEL_INVALID" });
  });
});

describe("resolveModelPath", () => {
  it("names a directory as such, with the GGUF files it holds", async () => {
    const models = await fs.mkdtemp(path.join(dir, "models-"));
    await fs.writeFile(path.join(models, "a.gguf"), tiny.subarray(0, 16));
    const err: unknown = await resolveModelPath({ model: models, modelsDir: dir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "MODEL_INVALID" });
    expect((err as Error).message).toContain(`MODEL is a directory, not a GGUF file: ${models}`);
    expect((err as Error).message).toContain("a.gguf");
  });

  it("passes the test model, and a file without the magic bytes fails as not a GGUF", async () => {
    expect(await resolveModelPath({ model: await tinyModelPath(), modelsDir: dir })).toBe(await tinyModelPath());
    const text = await write("text.gguf", Buffer.from("this is not a model\n"));
    await expect(resolveModelPath({ model: text, modelsDir: dir })).rejects.toThrow(/not a GGUF file/);
  });
});
