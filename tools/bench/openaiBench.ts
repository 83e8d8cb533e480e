/**
 * `npm run bench -- --engine openai --base-url URL`: the bot in front of a remote OpenAI-compatible
 * server (llama-server, vLLM, …) against direct streaming requests to the same server, with the
 * same messages and settings, in the same run.
 *
 * For each N: N conversations at once, first directly (the `openai` client, as the engine sends
 * them), then through the bot (Ingestor → Redis → ChatWorker with the `openai` engine → sink).
 * Reported: tokens/s over the round, steady decode tokens/s (every stream generating, from the
 * arrival times of the streamed pieces), TTFT p50, and bot ÷ direct. Then a follow-up: one
 * conversation's first turn (cold) and its next turn (warm: the server's prefix cache holds the
 * history), through the bot, with the cached prompt tokens the server reported.
 */
import { randomUUID } from "node:crypto";
import type { OpenAI } from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import type { Config } from "../../src/config.ts";
import type { Logger } from "../../src/logger.ts";
import type { ChatTurn } from "../../src/types.ts";
import type { Engine, EngineGenerateParams } from "../../workers/engine/Engine.ts";
import { chatMessages } from "../../workers/engine/openai/chatMessages.ts";
import { OpenAIEngine } from "../../workers/engine/openai/OpenAIEngine.ts";
import { safeUrl } from "../../workers/engine/openai/serverHttp.ts";
import { BotBench } from "./BotBench.ts";
import { nowMs, percentile, round, steadyDecodeRate } from "./stats.ts";
import { type BenchConversation, makeConversation } from "./workload.ts";

export interface OpenAIBenchArgs {
  baseUrl: string;
  concurrency: number[];
  tokens: number;
  history: number;
  followupHistory: number;
  followupReps: number;
}

interface SideResult {
  tokensPerS: number;
  decodeTokensPerS: number;
  ttftMsP50: number;
  generated: number;
  wallMs: number;
}

/** The engine, with the arrival time of every streamed piece recorded per conversation. */
function timedEngine(engine: Engine, times: Map<string, number[]>): Engine {
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop !== "generate") return Reflect.get(target, prop, receiver);
      return (params: EngineGenerateParams) =>
        target.generate({
          ...params,
          onText: (text) => {
            times.get(params.conversationKey)?.push(nowMs());
            params.onText?.(text);
          },
        });
    },
  });
}

/** One streamed request straight to the server: piece arrival times and the count the server gave. */
async function direct(
  client: OpenAI,
  model: string,
  body: { messages: ReturnType<typeof chatMessages>; maxTokens: number; temperature: number; topK: number; cachePrompt: boolean },
): Promise<{ times: number[]; generated: number; startedAt: number }> {
  const startedAt = nowMs();
  // The servers' extension fields (top_k, cache_prompt) ride along, as the engine sends them.
  const request: ChatCompletionCreateParamsStreaming & Record<string, unknown> = {
    model,
    messages: body.messages,
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: body.maxTokens,
    temperature: body.temperature,
    top_k: body.topK,
    ...(body.cachePrompt ? { cache_prompt: true } : {}),
  };
  const stream = await client.chat.completions.create(request);
  const times: number[] = [];
  let generated = 0;
  for await (const chunk of stream) {
    if (chunk.choices?.[0]?.delta?.content) times.push(nowMs());
    if (chunk.usage) generated = chunk.usage.completion_tokens;
  }
  return { times, generated: generated || times.length, startedAt };
}

function side(results: Array<{ times: number[]; generated: number; startedAt: number }>): SideResult {
  const start = Math.min(...results.map((r) => r.startedAt));
  const end = Math.max(...results.map((r) => r.times.at(-1) ?? r.startedAt));
  const generated = results.reduce((n, r) => n + r.generated, 0);
  return {
    tokensPerS: round((generated / (end - start)) * 1000, 2),
    decodeTokensPerS: round(steadyDecodeRate(results.map((r) => r.times)), 2),
    ttftMsP50: round(
      percentile(
        results.map((r) => (r.times[0] ?? r.startedAt) - r.startedAt),
        50,
      ),
      1,
    ),
    generated,
    wallMs: round(end - start, 1),
  };
}

export async function runOpenAIBench(args: OpenAIBenchArgs, base: Config, logger: Logger, log: (line: string) => void): Promise<unknown> {
  const maxN = Math.max(...args.concurrency);
  const config: Config = {
    ...base,
    ENGINE: "openai",
    OPENAI_BASE_URL: args.baseUrl,
    WORKER_CONCURRENCY: maxN,
    MAX_NEW_TOKENS: args.tokens,
    REDIS_PREFIX: `qwenbot-bench-${randomUUID().slice(0, 8)}`,
    MAX_INPUT_CHARS: Math.max(base.MAX_INPUT_CHARS, 100_000),
    MAX_PENDING_PER_CONVERSATION: Math.max(base.MAX_PENDING_PER_CONVERSATION, 10),
  };
  const engine = OpenAIEngine.start({
    baseURL: args.baseUrl,
    apiKey: config.OPENAI_API_KEY,
    model: config.OPENAI_MODEL,
    timeoutMs: config.OPENAI_TIMEOUT_MS,
    contextSize: config.OPENAI_CONTEXT_SIZE,
    slots: maxN,
    logger,
  });
  const times = new Map<string, number[]>();
  try {
    log(`connecting to ${safeUrl(args.baseUrl)}`);
    await engine.whenReady(AbortSignal.timeout(120_000));
    const facts = engine.server!;
    log(`${facts.backend}, model ${facts.model}, context ${engine.info.contextSize}, tokens counted by ${engine.info.tokenCounter}`);
    const sampling = {
      maxTokens: args.tokens,
      temperature: config.TEMPERATURE,
      topK: config.TOP_K,
      cachePrompt: facts.backend === "llama-server",
    };
    const conversation = (key: string, seed: number, target: number): BenchConversation =>
      makeConversation({
        key,
        seed,
        targetTokens: target,
        systemPrompt: config.SYSTEM_PROMPT,
        // Sizes by the engine's own count (its estimate where the server has no tokenizer).
        render: (s, h, u) => new Array(promptSize(engine, s, h, u)).fill(0),
        countTurnTokens: (text) => engine.countTokensSync(text) + 5,
      });
    const runs: unknown[] = [];
    for (const n of args.concurrency) {
      // Direct and bot get different conversations (same sizes): neither reuses the other's cache.
      const make = (tag: string) =>
        Array.from({ length: n }, (_, i) =>
          conversation(`local:bench-${tag}-n${n}-${i}-${randomUUID().slice(0, 4)}`, n * 100 + i, args.history),
        );
      log(`N=${n}: direct requests`);
      const directRuns = make("direct");
      const directResult = side(
        await Promise.all(
          directRuns.map((c) =>
            direct(engine.client, facts.model, { messages: chatMessages(config.SYSTEM_PROMPT, c.history, c.userText), ...sampling }),
          ),
        ),
      );
      log(`N=${n}: bot`);
      const bot = await BotBench.start({
        config: { ...config, REDIS_PREFIX: `qwenbot-bench-${randomUUID().slice(0, 8)}` },
        engine: timedEngine(engine, times),
        logger,
      });
      let botResult: SideResult;
      try {
        const conversations = make("bot");
        for (const c of conversations) await bot.seed(c);
        const r = await bot.round(conversations, times);
        botResult = {
          tokensPerS: round(r.tokensPerS, 2),
          decodeTokensPerS: round(r.decodeTokensPerS, 2),
          ttftMsP50: round(
            percentile(
              r.replies.map((x) => x.ttftMs),
              50,
            ),
            1,
          ),
          generated: r.generated,
          wallMs: round(r.wallMs, 1),
        };
      } finally {
        await bot.close();
      }
      const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? round(a / b, 3) : null);
      runs.push({
        concurrency: n,
        direct: directResult,
        bot: botResult,
        botOverDirect: {
          tokensPerS: ratio(botResult.tokensPerS, directResult.tokensPerS),
          decode: ratio(botResult.decodeTokensPerS, directResult.decodeTokensPerS),
        },
      });
      log(
        `N=${n}: direct ${directResult.tokensPerS} tok/s (TTFT ${directResult.ttftMsP50} ms), bot ${botResult.tokensPerS} tok/s (TTFT ${botResult.ttftMsP50} ms)`,
      );
    }
    log(`follow-up: ~${args.followupHistory} history tokens, cold then warm (×${args.followupReps})`);
    const bot = await BotBench.start({ config: { ...config, REDIS_PREFIX: `qwenbot-bench-${randomUUID().slice(0, 8)}` }, engine, logger });
    const cold: number[] = [];
    const warm: number[] = [];
    const cached: Array<[number | null, number | null]> = [];
    const prompt: number[] = [];
    try {
      for (let rep = 0; rep < args.followupReps; rep++) {
        const c = conversation(`local:bench-followup-${rep}-${randomUUID().slice(0, 6)}`, 5000 + rep, args.followupHistory);
        await bot.seed(c);
        const first = await bot.send(c.key, c.userText);
        const second = await bot.send(c.key, `Thanks. One more question, number ${rep}: what comes next?`);
        cold.push(first.ttftMs);
        warm.push(second.ttftMs);
        prompt.push(first.result.promptTokens);
        cached.push([first.result.cachedPromptTokens ?? null, second.result.cachedPromptTokens ?? null]);
      }
    } finally {
      await bot.close();
    }
    const followup = {
      promptTokens: round(percentile(prompt, 50), 0),
      coldTtftMs: round(percentile(cold, 50), 1),
      warmTtftMs: round(percentile(warm, 50), 1),
      speedup: round(percentile(cold, 50) / percentile(warm, 50), 2),
      cachedPromptTokens: cached,
    };
    log(`follow-up: cold ${followup.coldTtftMs} ms, warm ${followup.warmTtftMs} ms (×${followup.speedup})`);
    return {
      engine: "openai",
      baseUrl: safeUrl(args.baseUrl),
      backend: facts.backend,
      model: facts.model,
      contextSize: engine.info.contextSize,
      tokenCounter: engine.info.tokenCounter,
      tokens: args.tokens,
      historyTokens: args.history,
      runs,
      followup,
    };
  } finally {
    await engine.close();
  }
}

/** The engine's count of a whole prompt: the texts plus the template around each message. */
function promptSize(engine: Engine, system: string, history: readonly ChatTurn[], user: string): number {
  let n = engine.countTokensSync(system) + engine.countTokensSync(user) + 13;
  for (const t of history) n += engine.countTokensSync(t.text) + 5;
  return n;
}
