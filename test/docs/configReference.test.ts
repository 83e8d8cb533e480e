/**
 * The configuration reference cannot drift from the config schema: docs/configuration.md is what
 * the generator (tools/docs/configReference.ts) makes of src/config.ts, `.env.example` lists every
 * variable once, and no page of the documentation names a variable the schema does not have.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configShape } from "../../src/config.ts";
import { CONFIG_REFERENCE, renderConfigReference, renderConfigReferenceSource } from "../../tools/docs/configReference.ts";
import { ROOT } from "../helpers/runCli.ts";

const SCHEMA = Object.keys(configShape).sort();

/** Upper-case names that are not settings but appear in the docs (environment of other tools, build args). */
const NOT_CONFIG = new Set([
  "CI", // read by src/config.ts for LOG_PRETTY's default, not a setting of its own
  "LLAMA_BATCH_DEBUG", // llama.cpp's batch debugging switch (docs/performance.md)
  "CUDA_PACKAGES", // a Docker build argument (docs/operations.md)
  "UNEXPECTED", // the errors metric's code for errors without one (src/ops/metrics.ts)
  "Q4_K_M", // GGUF quantization types
  "Q8_0",
  "S_TG", // a column of llama-batched-bench's output
  "YOUR_APPLICATION_ID", // the placeholder in Discord's invite URL
  "OLLAMA_CONTEXT_LENGTH", // Ollama's own server setting (docs/engines.md)
]);

/** Error codes (src/errors.ts) may be named in the docs too. */
function errorCodes(): Set<string> {
  const text = fs.readFileSync(path.join(ROOT, "src/errors.ts"), "utf8");
  return new Set([...text.matchAll(/"([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!));
}

/**
 * Names in a Markdown text that look like settings: upper-case words of four or more characters
 * that contain an underscore, stand alone in a code span (`MODEL`), or are assigned (`GPU=false`).
 */
function variableLikeNames(markdown: string): string[] {
  const names = new Set<string>();
  for (const m of markdown.matchAll(/\b[A-Z][A-Z0-9_]{3,}\b/g)) if (m[0].includes("_")) names.add(m[0]);
  for (const m of markdown.matchAll(/`([A-Z][A-Z0-9_]{3,})`/g)) names.add(m[1]!);
  for (const m of markdown.matchAll(/\b([A-Z][A-Z0-9_]{3,})=/g)) names.add(m[1]!);
  return [...names].sort();
}

function documentationPages(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`);
  return ["README.md", ...docs.sort()];
}

describe("configuration reference (docs/configuration.md)", () => {
  it("is what the generator makes of the config schema (stale: run npm run docs:config)", () => {
    const current = fs.readFileSync(path.join(ROOT, CONFIG_REFERENCE), "utf8");
    expect(current === renderConfigReference(), `${CONFIG_REFERENCE} is stale: run npm run docs:config`).toBe(true);
  });

  it("has one row per variable of the schema, each under its group with a meaning", () => {
    const source = renderConfigReferenceSource();
    const rows = [...source.matchAll(/^\| `([A-Z][A-Z0-9_]*)`[^|]*\|([^|]*)\|(.*)\|$/gm)];
    expect(rows.map((r) => r[1]).sort()).toEqual(SCHEMA);
    for (const r of rows) expect(r[3]!.trim().length, r[1]).toBeGreaterThan(10);
    expect(source).toMatch(/^## Core$/m);
    expect(source).toMatch(/^## Discord$/m);
    expect(source).toMatch(/^## Slack$/m);
    expect(source).toContain("`DISCORD_TOKEN` _(secret)_");
  });

  it("is linked from the README", () => {
    expect(fs.readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain("(docs/configuration.md)");
  });
});

describe(".env.example", () => {
  it("sets every variable of the schema exactly once", () => {
    const text = fs.readFileSync(path.join(ROOT, ".env.example"), "utf8");
    const names = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    for (const name of SCHEMA)
      expect(
        names.filter((n) => n === name),
        name,
      ).toHaveLength(1);
    expect([...names].sort()).toEqual(SCHEMA);
  });
});

describe("documentation pages", () => {
  it("name no setting the schema lacks", () => {
    const known = new Set([...SCHEMA, ...errorCodes(), ...NOT_CONFIG]);
    const unknown: string[] = [];
    for (const page of documentationPages()) {
      const text = fs.readFileSync(path.join(ROOT, page), "utf8");
      for (const name of variableLikeNames(text)) if (!known.has(name)) unknown.push(`${page}: ${name}`);
    }
    expect(unknown).toEqual([]);
  });

  it("the scan finds names the way the docs write them", () => {
    const sample = "Set `THREADZ` or MAX_TOKENS, run GPU=off; CUDA and HTTPS are words; `SET NX` is a command.";
    expect(variableLikeNames(sample)).toEqual(["MAX_TOKENS", "THREADZ"]);
  });
});
