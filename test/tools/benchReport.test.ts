/**
 * The bench's JSON and table: decode tokens/s per N for the bot and the bare library, and with
 * `--peer` llama.cpp's S_TG and the bot's ratio to it, plus the target line that checks it.
 */
import { describe, expect, it } from "vitest";
import type { BotRound } from "../../tools/bench/BotBench.ts";
import type { RawRunResult } from "../../tools/bench/rawBaseline.ts";
import { type BenchRun, formatReport } from "../../tools/bench/report.ts";

function run(n: number, rawDecode: number, botDecode: number, peer?: number): BenchRun {
  const reply = { ttftMs: 100, queueMs: 2, ingestMs: 1, enqueuedAt: 0, result: { startedAt: 0, evaluationStartedAt: 0 } };
  return {
    concurrency: n,
    promptTokens: 150,
    raw: { tokensPerS: 10 * n, decodeTokensPerS: rawDecode, wallMs: 1000 } as unknown as RawRunResult,
    bot: { tokensPerS: 10 * n, decodeTokensPerS: botDecode, wallMs: 1000, replies: [reply] } as unknown as BotRound,
    ...(peer === undefined ? {} : { peer: { n, decodeTokensPerS: peer, prefillTokensPerS: 1000 } }),
  };
}

const base = {
  modelPath: "/m/x.gguf",
  modelBytes: 1e6,
  threads: 2,
  gpu: "none",
  contextSize: 2048,
  sequences: 8,
  tokens: 32,
  quick: true,
  elapsedS: 10,
};

describe("bench report", () => {
  it("carries decode tokens/s per N for bot and library, and bot ÷ llama.cpp S_TG with --peer", () => {
    const { json, table } = formatReport({ ...base, runs: [run(1, 30, 29, 31), run(8, 70, 72, 80)] });
    expect(
      json.runs.map((r) => [r.raw_decode_tokens_per_s, r.bot_decode_tokens_per_s, r.peer_decode_tokens_per_s, r.bot_vs_peer_decode]),
    ).toEqual([
      [30, 29, 31, 0.935],
      [70, 72, 80, 0.9],
    ]);
    expect(table).toContain("llama.cpp S_TG");
    expect(table).toContain("✗ bot decode ≥ 1.0 × llama.cpp S_TG at every N (lowest 0.900)");
  });

  it("leaves the peer columns out without --peer (null in the JSON)", () => {
    const { json, table } = formatReport({ ...base, runs: [run(1, 30, 31)] });
    expect(json.runs[0]!.peer_decode_tokens_per_s).toBeNull();
    expect(json.runs[0]!.bot_vs_peer_decode).toBeNull();
    expect(table).not.toContain("S_TG at every N");
  });
});
