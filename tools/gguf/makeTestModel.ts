/**
 * CLI: write a random-weight Qwen2 GGUF with the real tokenizer.
 *
 *   npm run model:make -- [--shape tiny|qwen2-0.5b] [--type f32|f16|q8_0] [--seed N]
 *                         [--template qwen2|qwen2.5|qwen3|llama3|gemma] [--out PATH]
 */

import { relative } from "node:path";
import { parseArgs } from "node:util";
import { defaultTestModelPath } from "./ensureTestModel.ts";
import type { TestModelShapeName, TestModelType } from "./qwen2TestModel.ts";
import { makeTestModel, TEST_MODEL_SHAPE_NAMES, TEST_MODEL_SHAPES, TEST_MODEL_TYPES } from "./qwen2TestModel.ts";
import {
  isTestModelTemplateName,
  TEST_MODEL_TEMPLATE_NAMES,
  TEST_MODEL_TEMPLATES,
  type TestModelTemplateName,
} from "./testModelTemplates.ts";

const TEMPLATE_HELP = TEST_MODEL_TEMPLATE_NAMES.map(
  (n) => `                             ${n.padEnd(8)} ${TEST_MODEL_TEMPLATES[n].description}`,
).join("\n");

const USAGE = `Usage: npm run model:make -- [options]

Writes a random-weight GGUF of the qwen2 architecture with the real Qwen2 tokenizer and
Qwen2-Instruct's chat template (or another one, --template). Same options, same bytes.

Options:
  --shape tiny|qwen2-0.5b  model shape (default: tiny)
                             tiny:       E 64, 2 blocks, 4 heads, 2 KV heads, FFN 128 (~45 MB at f32)
                             qwen2-0.5b: E 896, 24 blocks, 14 heads, 2 KV heads, FFN 4864
                                         (494M parameters; ~531 MB at q8_0, ~994 MB at f16)
  --type f32|f16|q8_0      weight type of the 2-D tensors; 1-D tensors are always f32
                           (default: f32 for tiny, q8_0 for qwen2-0.5b)
  --seed N                 integer seed of the random weights (default: 1)
  --template NAME          chat template, with the special tokens it needs (default: qwen2)
${TEMPLATE_HELP}
  --out PATH               output file (default, in the repo:
                           models/test/qwen2-<shape>-<type>-s<seed>[-<template>].gguf)
  -h, --help               show this help
`;

function fail(message: string): never {
  process.stderr.write(`model:make: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parse(): { shape: TestModelShapeName; type: TestModelType; seed: number; template: TestModelTemplateName; out: string } {
  const parsed = (() => {
    try {
      return parseArgs({
        options: {
          shape: { type: "string" },
          type: { type: "string" },
          seed: { type: "string" },
          template: { type: "string" },
          out: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
        allowPositionals: false,
        strict: true,
      });
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err));
    }
  })();
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const shape = values.shape ?? "tiny";
  if (!(TEST_MODEL_SHAPE_NAMES as readonly string[]).includes(shape)) {
    fail(`--shape must be one of ${TEST_MODEL_SHAPE_NAMES.join(", ")}, got "${shape}"`);
  }
  const type = values.type ?? (shape === "tiny" ? "f32" : "q8_0");
  if (!(TEST_MODEL_TYPES as readonly string[]).includes(type)) {
    fail(`--type must be one of ${TEST_MODEL_TYPES.join(", ")}, got "${type}"`);
  }
  const seedText = values.seed ?? "1";
  const seed = /^-?\d+$/.test(seedText) ? Number(seedText) : NaN;
  if (!Number.isSafeInteger(seed)) fail(`--seed must be an integer, got "${seedText}"`);
  const template = values.template ?? "qwen2";
  if (!isTestModelTemplateName(template)) fail(`--template must be one of ${TEST_MODEL_TEMPLATE_NAMES.join(", ")}, got "${template}"`);
  if (values.out !== undefined && values.out.trim() === "") fail("--out must not be empty");
  const s = shape as TestModelShapeName;
  const t = type as TestModelType;
  return { shape: s, type: t, seed, template, out: values.out ?? defaultTestModelPath(s, t, seed, template) };
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

const args = parse();
const shape = TEST_MODEL_SHAPES[args.shape];
process.stderr.write(
  `writing qwen2 ${args.shape} (E ${shape.embedding}, ${shape.blocks} blocks) ${args.type} seed ${args.seed}, ${args.template} chat template\n`,
);
const started = performance.now();
const tty = process.stderr.isTTY === true;
let lastPercent = -1;
const result = await makeTestModel({
  ...args,
  onProgress(done, total) {
    const percent = Math.floor((done / total) * 100);
    const step = tty ? 1 : 10;
    if (total < 100e6 || percent === lastPercent || (percent % step !== 0 && percent !== 100)) return;
    lastPercent = percent;
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    const line = `  ${String(percent).padStart(3)}%  ${mb(done)} / ${mb(total)}  ${secs}s`;
    process.stderr.write(tty ? `\r${line}` : `${line}\n`);
  },
});
if (tty && lastPercent >= 0) process.stderr.write("\n");
const secs = (performance.now() - started) / 1000;
const shown = relative(process.cwd(), result.path);
process.stdout.write(
  `${shown.startsWith("..") ? result.path : shown}  ${mb(result.bytes)} (${result.bytes} bytes), ` +
    `${(result.parameters / 1e6).toFixed(1)}M parameters, ${result.tensors} tensors, ${secs.toFixed(1)}s\n`,
);
