/**
 * What the GGUF tests share: a temporary folder per test file (`useTempDir()` registers its
 * creation and removal in the calling file), file hashes and byte ranges, and a deterministic
 * sample vector.
 */
import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";

/** Timeout of the tests that write or load a whole model. */
export const SLOW = 120_000;

/** A temporary folder made before the calling file's tests and removed after them; call the result for its path. */
export function useTempDir(): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "qwenbot-gguf-"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error("the temporary folder exists only while the tests run");
    return dir;
  };
}

export async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

export async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    expect(bytesRead).toBe(length);
    return new Uint8Array(buf.buffer, buf.byteOffset, length);
  } finally {
    await fh.close();
  }
}

/** A deterministic vector with a spread of magnitudes and signs. */
export function sampleVector(n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(i * 1.7 + 0.3) * (1 + (i % 7)) * 0.37;
  return v;
}
