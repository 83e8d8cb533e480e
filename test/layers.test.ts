/** The folders are the layers: imports point one way (tools/layers/layerRules.ts), and files stay short. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkLayers } from "../tools/layers/checkLayers.ts";
import { IMPORT_EXCEPTIONS, importAllowed } from "../tools/layers/layerRules.ts";
import { ROOT } from "./helpers/runCli.ts";

describe("layers", () => {
  it("the repository keeps its import rules and file sizes", () => {
    expect(checkLayers(ROOT).map((v) => `${v.file}:${v.line} ${v.rule}`)).toEqual([]);
  });

  it("the checker sees each kind of violation", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qb-layers-"));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };
    // Spelled apart so this file's own imports are not read as the fixture's.
    const imp = "import";
    try {
      write("src/types.ts", "export type A = 1;\n");
      write("src/queue/q.ts", 'import type { W } from "../../workers/w.ts";\nimport { Client } from "discord.js";\n');
      write("src/ops/m.ts", 'import { x } from "../../adapters/discord/d.ts";\n');
      write(
        "adapters/discord/d.ts",
        `export const x = 1;\nimport { y } from "../slack/s.ts";\nconst m = await ${imp}("../../workers/w.ts");\n`,
      );
      write("adapters/slack/s.ts", 'export const y = 1;\nimport { LlamaChat } from "node-llama-cpp";\n');
      write("workers/w.ts", 'export type W = 1;\nexport { z } from "../bin/b.ts";\nimport "@slack/bolt";\n');
      write("bin/b.ts", `import { t } from "../tools/t.ts";\n${"\n".repeat(450)}`);
      write("tools/t.ts", 'import { h } from "../test/helpers/h.ts";\n');
      write("test/sim/big.ts", "\n".repeat(900));
      const rules = checkLayers(dir).map((v) => `${v.file} ${v.rule}`);
      expect(rules).toEqual([
        "adapters/discord/d.ts adapters/discord must not import adapters/slack (adapters/slack/s.ts)",
        "adapters/discord/d.ts adapters must not import workers (workers/w.ts)",
        "adapters/slack/s.ts adapters must not import the package node-llama-cpp",
        "bin/b.ts bin must not import tools (tools/t.ts)",
        "bin/b.ts longer than 400 lines (452)",
        "src/ops/m.ts ops must not import adapters (adapters/discord/d.ts)",
        "src/queue/q.ts core must not import workers (workers/w.ts)",
        "src/queue/q.ts core must not import the package discord.js",
        "tools/t.ts tools must not import test (test/helpers/h.ts)",
        "workers/w.ts workers must not import bin (bin/b.ts)",
        "workers/w.ts workers must not import the package @slack/bolt",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the one exception is narrow: tools/chaos/ may import test/sim/, and nothing else may cross because of it", () => {
    expect(IMPORT_EXCEPTIONS.map((e) => `${e.from} → ${e.to}`)).toEqual(["tools/chaos/ → test/sim/"]);
    expect(importAllowed("tools/chaos/DiscordTraffic.ts", "test/sim/discord/DiscordSimulator.ts")).toBe(true);
    for (const [from, to] of [
      ["tools/chaos/chaos.ts", "test/helpers/harness.ts"],
      ["tools/chaos/chaos.ts", "test/discord/discordTestbed.ts"],
      ["tools/bench/bench.ts", "test/sim/openai/OpenAISim.ts"],
      ["tools/chaosX/a.ts", "test/sim/slack/SlackSimulator.ts"],
      ["bin/start.ts", "test/sim/discord/DiscordSimulator.ts"],
      ["src/config.ts", "test/sim/slack/SlackSimulator.ts"],
      ["adapters/slack/SlackSink.ts", "test/sim/slack/SlackSimulator.ts"],
      ["workers/ChatWorker.ts", "test/sim/openai/OpenAISim.ts"],
    ])
      expect(importAllowed(from!, to!), `${from} → ${to}`).toBe(false);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qb-layers-"));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };
    try {
      write("test/sim/s.ts", "export const s = 1;\n");
      write("test/helpers/h.ts", "export const h = 1;\n");
      write("tools/chaos/c.ts", 'import { s } from "../../test/sim/s.ts";\nimport { h } from "../../test/helpers/h.ts";\n');
      write("tools/bench/b.ts", 'import { s } from "../../test/sim/s.ts";\n');
      expect(checkLayers(dir).map((v) => `${v.file} ${v.rule}`)).toEqual([
        "tools/bench/b.ts tools must not import test (test/sim/s.ts)",
        "tools/chaos/c.ts tools must not import test (test/helpers/h.ts)",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
