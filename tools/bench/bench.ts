/**
 * `npm run bench`: throughput of the bot against the bare library, in one process, on the same
 * model with the same settings.
 *
 *   npm run bench -- [--quick] [--out FILE] [--profile] [--model PATH] [--threads N]
 *                    [--concurrency 1,4,8] [--tokens 128] [--history 300] [--followup-history 1000]
 *                    [--peer PATH-TO-llama-batched-bench]
 *   npm run bench -- --engine openai --base-url http://127.0.0.1:8080/v1 [--quick] [--out FILE] …
 *   npm run bench -- --workers N [--conversations K] [--quick] [--model PATH] [--threads N] [--out FILE] …
 *
 * Redis (REDIS_URL) must be running; everything the benchmark writes there lives under its own
 * prefix and is removed at the end.
 */
import { randomUUID } from "node:crypto";
import { stat, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { type Config, loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { contextOptions, loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { ensureTestModel } from "../gguf/ensureTestModel.ts";
import { BotBench } from "./BotBench.ts";
import { BatchProfiler } from "./batchProfiler.ts";
import { runOpenAIBench } from "./openaiBench.ts";
import { runPeerBench } from "./peerBench.ts";
import { type RawRunResult, runRawBaseline } from "./rawBaseline.ts";
import { type BenchReport, type BenchRun, formatReport } from "./report.ts";
import { percentile, round } from "./stats.ts";
import { runWorkersBench } from "./workersBench.ts";
import { type BenchConversation, makeConversation } from "./workload.ts";

const USAGE = `Usage: npm run bench -- [options]

Measures generation throughput of the bare node-llama-cpp library and of the bot's full path
(Ingestor → Redis → ChatWorker → reply sink) on the same model and settings, and the time to
first token of a follow-up turn with its sequence warm versus cold.

Options:
  --quick                  a smaller run for regular use (about a minute on 2 cores)
  --out FILE               also write the results as JSON
  --profile                count batches and decode time per run (diagnostics)
  --model PATH             GGUF to use (default: the Qwen2-0.5B-shaped Q8_0 test model, made if missing)
  --threads N              threads per decode (default: THREADS, or the physical cores)
  --concurrency LIST       conversations at once, comma-separated (default: 1,4,8)
  --tokens N               tokens generated per reply (default: 128; quick: 32)
  --history N              prompt tokens per conversation (default: 300; quick: 150)
  --followup-history N     history tokens of the follow-up conversation (default: 1000; quick: 600)
  --engine local|openai    openai: the bot in front of a remote server against direct requests to it
                           (tools/bench/openaiBench.ts; OPENAI_MODEL, OPENAI_API_KEY from the config)
  --base-url URL           the server's OpenAI base URL (default: OPENAI_BASE_URL)
  --peer PATH              a llama-batched-bench binary of node-llama-cpp's llama.cpp release: run it on the
                           same model and settings after the bot's runs; reports bot decode ÷ its S_TG per N
  --workers N              instead: the follow-up workload on 1 worker process, then on N (real
                           \`npm run worker\` processes sharing the threads); reports cold and warm TTFT,
                           follow-ups answered by their first turn's worker, and speedup(N) ÷ speedup(1)
                           (tools/bench/workersBench.ts)
  --conversations K        with --workers: conversations per phase (default: 2 × N, at least 2)
  -h, --help               show this help
`;

interface BenchArgs {
  quick: boolean;
  out?: string;
  profile: boolean;
  model?: string;
  threads?: number;
  concurrency: number[];
  tokens: number;
  history: number;
  followupHistory: number;
  followupReps: number;
  lockstepBaseline: boolean;
  engine: "local" | "openai";
  baseUrl?: string;
  peer?: string;
  workers?: number;
  conversations?: number;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) fail(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

function parse(): BenchArgs {
  const parsed = (() => {
    try {
      return parseArgs({
        options: {
          quick: { type: "boolean" },
          out: { type: "string" },
          profile: { type: "boolean" },
          model: { type: "string" },
          threads: { type: "string" },
          concurrency: { type: "string" },
          tokens: { type: "string" },
          history: { type: "string" },
          "followup-history": { type: "string" },
          engine: { type: "string" },
          "base-url": { type: "string" },
          peer: { type: "string" },
          workers: { type: "string" },
          conversations: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
        strict: true,
        allowPositionals: false,
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
  const quick = values.quick === true;
  const concurrency = (values.concurrency ?? "1,4,8").split(",").map((s) => positiveInt("concurrency", s.trim(), 1));
  if (concurrency.length === 0) fail("--concurrency needs at least one number");
  return {
    quick,
    out: values.out,
    profile: values.profile === true,
    model: values.model,
    threads: values.threads === undefined ? undefined : positiveInt("threads", values.threads, 1),
    concurrency,
    tokens: positiveInt("tokens", values.tokens, quick ? 32 : 128),
    history: positiveInt("history", values.history, quick ? 150 : 300),
    followupHistory: positiveInt("followup-history", values["followup-history"], quick ? 600 : 1000),
    followupReps: quick ? 1 : 2,
    lockstepBaseline: !quick || values.profile === true,
    engine:
      values.engine === undefined || values.engine === "local"
        ? "local"
        : values.engine === "openai"
          ? "openai"
          : fail(`--engine must be local or openai, got "${values.engine}"`),
    baseUrl: values["base-url"],
    peer: values.peer,
    workers: values.workers === undefined ? undefined : positiveInt("workers", values.workers, 1),
    conversations: values.conversations === undefined ? undefined : positiveInt("conversations", values.conversations, 2),
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<void> {
  const args = parse();
  const began = performance.now();
  const base = loadConfig();
  if (args.engine === "openai") {
    const baseUrl = args.baseUrl ?? base.OPENAI_BASE_URL ?? fail("--engine openai needs --base-url (or OPENAI_BASE_URL)");
    const logger = createLogger({ level: base.LOG_LEVEL === "info" ? "warn" : base.LOG_LEVEL, destination: pino.destination(2) });
    const json = await runOpenAIBench({ ...args, baseUrl }, base, logger, log);
    const text = `${JSON.stringify({ ...(json as object), elapsedS: round((performance.now() - began) / 1000, 1) }, null, 2)}\n`;
    process.stdout.write(text);
    if (args.out) await writeFile(args.out, text);
    return;
  }
  let writing = false;
  const modelPath =
    args.model ??
    (await ensureTestModel({
      shape: "qwen2-0.5b",
      type: "q8_0",
      seed: 1,
      onProgress: (done, total) => {
        if (!writing) log(`writing the Qwen2-0.5B-shaped Q8_0 test model (${(total / 1e6).toFixed(0)} MB, once)`);
        writing = true;
        if (done === total) log("model written");
      },
    }));
  if (args.workers !== undefined) {
    const logger = createLogger({ level: base.LOG_LEVEL === "info" ? "warn" : base.LOG_LEVEL, destination: pino.destination(2) });
    const { table, json } = await runWorkersBench(
      { ...args, modelPath, workers: args.workers, threads: args.threads ?? base.THREADS },
      base,
      logger,
      log,
    );
    process.stdout.write(`${table}\n`);
    if (args.out) await writeFile(args.out, `${JSON.stringify(json, null, 2)}\n`);
    return;
  }
  const maxN = Math.max(...args.concurrency);
  const threads = args.threads ?? base.THREADS;
  const contextSize = Math.ceil((Math.max(args.history, args.followupHistory + 200) + 2 * args.tokens + 64) / 256) * 256;
  const config: Config = {
    ...base,
    MODEL: modelPath,
    THREADS: threads,
    WORKER_CONCURRENCY: maxN,
    MAX_NEW_TOKENS: args.tokens,
    CONTEXT_SIZE: contextSize,
    REDIS_PREFIX: `qwenbot-bench-${randomUUID().slice(0, 8)}`,
    MAX_INPUT_CHARS: Math.max(base.MAX_INPUT_CHARS, 100_000),
    MAX_PENDING_PER_CONVERSATION: Math.max(base.MAX_PENDING_PER_CONVERSATION, 10),
  };
  const logger = createLogger({ level: base.LOG_LEVEL === "info" ? "warn" : base.LOG_LEVEL, destination: pino.destination(2) });

  log(`loading ${modelPath} (threads ${threads}, ${maxN} sequences × ${contextSize} tokens)`);
  const loaded = await loadModel({
    model: modelPath,
    modelsDir: config.modelsDir,
    gpu: config.GPU,
    threads,
    contextSize,
    sequences: maxN,
    logger,
  });
  // Every phase gets a fresh context built with the worker's own options: the same settings on
  // both sides, and no phase inherits another's sequences.
  const settings = { sequences: maxN, contextSize: loaded.context.contextSize, threads };
  await loaded.context.dispose();
  const sampling = { temperature: config.TEMPERATURE, topK: config.TOP_K };
  const tokenTimes = new Map<string, number[]>();
  const freshRunner = async () =>
    new ModelRunner(
      { ...loaded, context: await loaded.model.createContext(contextOptions(settings)) },
      {
        // Bench only: every reply runs to exactly --tokens tokens, as in the bare baseline.
        ignoreEndOfGeneration: true,
        onTokenGenerated: (key, at) => tokenTimes.get(key)?.push(at),
      },
    );
  const conversation = (key: string, seed: number, targetTokens: number): BenchConversation =>
    makeConversation({
      key,
      seed,
      targetTokens,
      systemPrompt: config.SYSTEM_PROMPT,
      render: (s, h, u) => renderer.renderPrompt(s, h, u),
      countTurnTokens: (text) => renderer.turnTokens({ text }),
    });
  const renderer = await freshRunner();
  await renderer.close({ keepModel: true });

  const runs: BenchRun[] = [];
  let followup: BenchReport["followup"];
  /** One bot phase: a fresh runner and worker on their own Redis prefix, closed afterwards. */
  const withBot = async <T>(fn: (bot: BotBench, runner: ModelRunner) => Promise<T>): Promise<T> => {
    const runner = await freshRunner();
    let bot: BotBench | undefined;
    try {
      bot = await BotBench.start({ config: { ...config, REDIS_PREFIX: `qwenbot-bench-${randomUUID().slice(0, 8)}` }, runner, logger });
      return await fn(bot, runner);
    } finally {
      await bot?.close();
      await runner.close({ keepModel: true });
    }
  };
  try {
    log("warming up");
    await runRawBaseline({
      model: loaded.model,
      settings,
      prompts: [conversation("warmup", 999, 64).promptTokens],
      tokens: 8,
      drive: "independent",
      ...sampling,
    });

    for (const n of args.concurrency) {
      const conversations = Array.from({ length: n }, (_, i) => conversation(`local:bench-n${n}-${i}`, n * 100 + i, args.history));
      const prompts = conversations.map((c) => c.promptTokens);
      const promptMean = prompts.reduce((a, p) => a + p.length, 0) / n;
      log(`N=${n}: raw baseline (${n} × ~${Math.round(promptMean)} prompt tokens, ${args.tokens} generated each)`);
      const raw = await runRawBaseline({
        model: loaded.model,
        settings,
        prompts,
        tokens: args.tokens,
        drive: "independent",
        profile: args.profile,
        ...sampling,
      });
      let lockstep: RawRunResult | undefined;
      if (args.lockstepBaseline && n > 1) {
        log(`N=${n}: raw baseline, lockstep`);
        lockstep = await runRawBaseline({
          model: loaded.model,
          settings,
          prompts,
          tokens: args.tokens,
          drive: "lockstep",
          profile: args.profile,
          ...sampling,
        });
      }
      log(`N=${n}: bot`);
      const { round, profiler } = await withBot(async (bot, runner) => {
        for (const c of conversations) await bot.seed(c);
        const profiler = args.profile ? new BatchProfiler() : undefined;
        profiler?.attach(runner.loaded.context);
        const round = await bot.round(conversations, tokenTimes);
        profiler?.detach();
        return { round, profiler };
      });
      const short = round.replies.filter((r) => r.result.generatedTokens !== args.tokens);
      if (short.length > 0) throw new Error(`${short.length} bot replies did not generate exactly ${args.tokens} tokens`);
      runs.push({ concurrency: n, promptTokens: Math.round(promptMean), raw, lockstep, bot: round, botProfile: profiler });
    }

    if (args.peer) {
      log(`llama.cpp peer: ${args.peer} (N = ${args.concurrency.join(", ")})`);
      const promptTokens = Math.round(runs.reduce((a, x) => a + x.promptTokens, 0) / runs.length);
      const peerRuns = await runPeerBench({
        binary: args.peer,
        model: modelPath,
        threads,
        promptTokens,
        tokens: args.tokens,
        concurrency: args.concurrency,
      });
      for (const run of runs) run.peer = peerRuns.find((p) => p.n === run.concurrency);
    }
    log(`follow-up: a conversation with ~${args.followupHistory} history tokens, cold then warm (×${args.followupReps})`);
    followup = await withBot(async (bot) => {
      const cold: number[] = [];
      const warm: number[] = [];
      const prompt: number[] = [];
      const evaluated: Array<[number, number]> = [];
      for (let rep = 0; rep < args.followupReps; rep++) {
        const c = conversation(`local:bench-followup-${rep}`, 5000 + rep, args.followupHistory);
        await bot.seed(c);
        const first = await bot.send(c.key, c.userText);
        const second = await bot.send(c.key, `Thanks. One more question, number ${rep}: what comes next?`);
        cold.push(first.ttftMs);
        warm.push(second.ttftMs);
        prompt.push(first.result.promptTokens);
        evaluated.push([first.result.evaluatedInputTokens, second.result.evaluatedInputTokens]);
      }
      return {
        historyTokens: Math.round(percentile(prompt, 50)),
        coldTtftMs: percentile(cold, 50),
        warmTtftMs: percentile(warm, 50),
        evaluated,
      };
    });
  } finally {
    await loaded.model.dispose();
    await loaded.llama.dispose();
  }

  const report: BenchReport = {
    modelPath,
    modelBytes: (await stat(modelPath)).size,
    threads,
    gpu: loaded.llama.gpu === false ? "none" : String(loaded.llama.gpu),
    contextSize: settings.contextSize,
    sequences: maxN,
    tokens: args.tokens,
    quick: args.quick,
    runs,
    followup,
    elapsedS: (performance.now() - began) / 1000,
  };
  const { table, json } = formatReport(report);
  process.stdout.write(`${table}\n`);
  if (args.out) {
    await writeFile(args.out, `${JSON.stringify(json, null, 2)}\n`);
    log(`wrote ${args.out}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
