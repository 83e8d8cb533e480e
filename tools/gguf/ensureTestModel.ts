/**
 * The project's test models live at a fixed place under the repository's (gitignored)
 * models/ folder and are generated on first use.
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestModelShapeName, TestModelTemplateName, TestModelType } from "./qwen2TestModel.ts";
import { makeTestModel, testModelLayout } from "./qwen2TestModel.ts";

/** The repository root (two folders up from tools/gguf/). */
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * `<repo>/models/test/qwen2-<shape>-<type>-s<seed>.gguf` (absolute); with another chat template
 * than Qwen2-Instruct's, `…-s<seed>-<template>.gguf`.
 */
export function defaultTestModelPath(
  shape: TestModelShapeName,
  type: TestModelType,
  seed: number,
  template: TestModelTemplateName = "qwen2",
): string {
  const suffix = template === "qwen2" ? "" : `-${template}`;
  return join(REPO_ROOT, "models", "test", `qwen2-${shape}-${type}-s${seed}${suffix}.gguf`);
}

export interface EnsureTestModelOptions {
  /** Default "tiny". */
  shape?: TestModelShapeName;
  /** Default "f32". */
  type?: TestModelType;
  /** Default 1. */
  seed?: number;
  /** Default "qwen2" (Qwen2-Instruct's chat template). */
  template?: TestModelTemplateName;
  /** Default `defaultTestModelPath(shape, type, seed, template)`. */
  out?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Whether the file at `path` has exactly this size and starts with exactly this header. */
async function isCurrent(path: string, expected: { header: Buffer; bytes: number }): Promise<boolean> {
  const fh = await open(path, "r").catch(() => null);
  if (!fh) return false;
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== expected.bytes) return false;
    const buf = Buffer.alloc(expected.header.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return bytesRead === buf.length && buf.equals(expected.header);
  } finally {
    await fh.close();
  }
}

/**
 * Returns the path of the test model, generating it first when the file is missing or not
 * what this generator writes (checked by size and header, which carries a generator
 * version). Safe to call from several processes at once: each writes a temporary file and
 * renames it into place, and the results are byte-identical.
 */
export async function ensureTestModel(opts: EnsureTestModelOptions = {}): Promise<string> {
  const shape = opts.shape ?? "tiny";
  const type = opts.type ?? "f32";
  const seed = opts.seed ?? 1;
  const template = opts.template ?? "qwen2";
  const out = opts.out ?? defaultTestModelPath(shape, type, seed, template);
  if (await isCurrent(out, await testModelLayout(shape, type, seed, template))) return out;
  const made = await makeTestModel({
    shape,
    type,
    seed,
    template,
    out,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  return made.path;
}
