/**
 * `npm run bench -- --peer PATH`: the command line given to llama-batched-bench, the parsing of its
 * jsonl output among its log lines, and the failures named (a missing binary, a non-zero exit, a
 * concurrency it printed nothing for). A shell script stands in for the binary here; the real one
 * is built by hand from node-llama-cpp's llama.cpp bundle (docs/performance.md).
 */
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PeerBenchError, parsePeerOutput, peerArgs, runPeerBench } from "../../tools/bench/peerBench.ts";

const row = (pl: number, tg: number) =>
  `{"n_kv_max": 3136, "n_batch": 512, "n_ubatch": 512, "flash_attn": 0, "is_pp_shared": 0, "n_gpu_layers": 99, "n_threads": 2, "n_threads_batch": 2, "pp": 256, "tg": 128, "pl": ${pl}, "n_kv": ${pl * 384}, "t_pp": 0.5, "speed_pp": ${pl * 512}.5, "t_tg": 1.0, "speed_tg": ${tg}, "t": 1.5, "speed": 1.0}`;

const opts = { model: "/m.gguf", threads: 2, promptTokens: 256, tokens: 128, concurrency: [1, 4, 8] };

async function fakePeer(script: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "peer-"));
  const file = path.join(dir, "llama-batched-bench");
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

describe("peer bench (llama-batched-bench)", () => {
  it("asks for every N with the worker's settings, the KV sized for the largest N, jsonl output", () => {
    const args = peerArgs({ binary: "x", ...opts });
    expect(args.join(" ")).toBe(
      "-m /m.gguf -c 3136 -b 512 -ub 512 -npp 256 -ntg 128 -npl 1,4,8 -t 2 -tb 2 -fa off -ngl 99 --output-format jsonl",
    );
  });

  it("reads S_TG and S_PP per N and skips its log lines", () => {
    const out = [
      "llama_model_loader: loaded meta data",
      "{not a result}",
      row(1, 80.25),
      "",
      row(4, 210),
      row(8, 300.5),
      "main: done",
    ].join("\n");
    expect(parsePeerOutput(out)).toEqual([
      { n: 1, decodeTokensPerS: 80.25, prefillTokensPerS: 512.5 },
      { n: 4, decodeTokensPerS: 210, prefillTokensPerS: 2048.5 },
      { n: 8, decodeTokensPerS: 300.5, prefillTokensPerS: 4096.5 },
    ]);
  });

  it("runs the binary and returns its runs (its arguments reach it)", async () => {
    const bin = await fakePeer(`echo "args: $*" >&2\necho '${row(1, 50)}'\necho '${row(4, 120)}'\necho '${row(8, 160)}'`);
    const runs = await runPeerBench({ binary: bin, ...opts });
    expect(runs.map((r) => [r.n, r.decodeTokensPerS])).toEqual([
      [1, 50],
      [4, 120],
      [8, 160],
    ]);
  });

  it("names the failures: no such binary, a non-zero exit with its last words, an N it printed nothing for", async () => {
    await expect(runPeerBench({ binary: "/nonexistent/llama-batched-bench", ...opts })).rejects.toThrow(
      /could not run \/nonexistent\/llama-batched-bench: .*ENOENT/,
    );
    const crashing = await fakePeer(`echo "error: unable to load model" >&2\nexit 1`);
    const err = await runPeerBench({ binary: crashing, ...opts }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerBenchError);
    expect((err as PeerBenchError).code).toBe("PEER_BENCH_FAILED");
    expect(String(err)).toMatch(/exited with 1: error: unable to load model/);
    const partial = await fakePeer(`echo '${row(1, 50)}'`);
    await expect(runPeerBench({ binary: partial, ...opts })).rejects.toThrow(/printed no result for N = 4, 8/);
  });
});
