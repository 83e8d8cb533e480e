/**
 * Drives the `openai` engine against a real OpenAI-compatible server by hand (never in CI): what
 * it learns from the server, a streamed reply, a Stop mid-reply, prefix-cache reuse across two
 * turns, and first-token time of a follow-up warm (the server holds its prefix) against the same
 * follow-up cold (a different first byte, so nothing can be reused).
 *
 *   npx tsx tools/engine/engineCheck.ts --base-url http://127.0.0.1:8080/v1 [--model NAME]
 *     [--api-key KEY] [--history-turns 16] [--rounds 5] [--max-tokens 16]
 *
 * Prints one JSON summary on stdout (progress on stderr). The server's own log shows the cancel.
 */
import { parseArgs } from "node:util";
import { EngineError } from "../../src/errors.ts";
import { createLogger } from "../../src/logger.ts";
import type { ChatTurn } from "../../src/types.ts";
import type { EngineGenerateParams, EngineResult } from "../../workers/engine/Engine.ts";
import { OpenAIEngine } from "../../workers/engine/openai/OpenAIEngine.ts";

const { values } = parseArgs({
  options: {
    "base-url": { type: "string" },
    model: { type: "string" },
    "api-key": { type: "string" },
    "history-turns": { type: "string", default: "16" },
    rounds: { type: "string", default: "5" },
    "max-tokens": { type: "string", default: "16" },
    "log-level": { type: "string", default: "warn" },
  },
});
const baseURL = values["base-url"];
if (!baseURL) {
  console.error(
    "usage: engineCheck.ts --base-url http://127.0.0.1:8080/v1 [--model NAME] [--api-key KEY] [--history-turns N] [--rounds N]",
  );
  process.exit(2);
}
const maxTokens = Number(values["max-tokens"]);
const historyTurns = Number(values["history-turns"]);
const rounds = Number(values.rounds);
const progress = (msg: string) => process.stderr.write(`${msg}\n`);

const logger = createLogger({ level: values["log-level"], secrets: values["api-key"] ? [values["api-key"]] : [] });
const engine = OpenAIEngine.start({ baseURL, apiKey: values["api-key"], model: values.model, timeoutMs: 120_000, slots: 2, logger });
const SYSTEM = "You are a helpful assistant. Answer briefly.";
const params = (systemPrompt: string, history: readonly ChatTurn[], userText: string, extra: Partial<EngineGenerateParams> = {}) => ({
  conversationKey: "check",
  systemPrompt,
  history,
  userText,
  maxTokens,
  temperature: 0.7,
  topK: 40,
  ...extra,
});
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/**
 * A retryable failure is retried here as the worker would retry the job. (With the random-weight
 * test model, llama-server's chat-output parser rejects some replies that end in invalid UTF-8:
 * an error event mid-stream, "The model produced output that does not match the expected … format".)
 */
const retried: string[] = [];
async function generate(p: EngineGenerateParams): Promise<EngineResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await engine.generate(p);
    } catch (err) {
      if (!(err instanceof EngineError) || !err.retryable || attempt >= 5) throw err;
      retried.push(err.message);
    }
  }
}
const brief = (r: EngineResult) => ({
  stopReason: r.stopReason,
  generatedTokens: r.generatedTokens,
  promptTokens: r.promptTokens,
  cachedPromptTokens: r.cachedPromptTokens,
  evaluatedInputTokens: r.evaluatedInputTokens,
  ttftMs: Math.round(r.ttftMs * 10) / 10,
  totalMs: Math.round(r.totalMs * 10) / 10,
});

try {
  progress(`waiting for ${baseURL} …`);
  await engine.whenReady(AbortSignal.timeout(120_000));
  const summary: Record<string, unknown> = { info: engine.info, server: engine.server };

  const sample = "Hello, world! Count these tokens: 12345 and ünïcödé.";
  summary.counting = { sample, turnTokens: await engine.turnTokens(sample), counter: engine.tokens?.kind };

  progress("streaming …");
  let updates = 0;
  const streamed = await generate(params(SYSTEM, [], "Write a short poem about the sea.", { onText: () => updates++ }));
  summary.streaming = { ...brief(streamed), textUpdates: updates, text: streamed.text };

  progress("Stop mid-reply …");
  const stop = new AbortController();
  let seen = 0;
  const stopped = await generate(
    params(SYSTEM, [], "Tell me a very long story.", {
      maxTokens: 400,
      signal: stop.signal,
      onText: () => {
        if (++seen === 5) stop.abort();
      },
    }),
  );
  summary.stop = { ...brief(stopped), piecesBeforeStop: seen };

  progress("two turns …");
  const t1 = await generate(params(SYSTEM, [], "What is the capital of France?"));
  const h1: ChatTurn[] = [
    { role: "user", text: "What is the capital of France?", at: 1 },
    { role: "assistant", text: t1.text, at: 2 },
  ];
  const t2 = await generate(params(SYSTEM, h1, "And of Italy?"));
  summary.twoTurns = { first: brief(t1), second: brief(t2) };

  progress(`warm vs cold follow-ups (${rounds} rounds, ${historyTurns}-turn history) …`);
  const history: ChatTurn[] = [];
  for (let i = 0; i < historyTurns; i++)
    history.push({
      role: i % 2 === 0 ? "user" : "assistant",
      text: `Message ${i}: ${"a fairly ordinary sentence about the weather, trains and tea; ".repeat(3)}`,
      at: i,
    });
  const warm: EngineResult[] = [];
  const cold: EngineResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const system = `${SYSTEM} (conversation ${r}-${Date.now()})`;
    const first = await generate(params(system, history, "Summarize our chat."));
    const followUp = [
      ...history,
      { role: "user" as const, text: "Summarize our chat.", at: 0 },
      { role: "assistant" as const, text: first.text, at: 0 },
    ];
    warm.push(await generate(params(system, followUp, "Thanks. One more thing?")));
    // The same follow-up under a system prompt that differs from its first word: no prefix to reuse
    // beyond the template's opening.
    cold.push(await generate(params(`(cold) ${system}`, followUp, "Thanks. One more thing?")));
  }
  const warmTtft = median(warm.map((r) => r.ttftMs));
  const coldTtft = median(cold.map((r) => r.ttftMs));
  summary.followUp = {
    rounds,
    promptTokens: warm[0]?.promptTokens,
    warm: { medianTtftMs: Math.round(warmTtft * 10) / 10, medianCached: median(warm.map((r) => r.cachedPromptTokens ?? 0)) },
    cold: { medianTtftMs: Math.round(coldTtft * 10) / 10, medianCached: median(cold.map((r) => r.cachedPromptTokens ?? 0)) },
    speedup: warmTtft > 0 ? Math.round((coldTtft / warmTtft) * 100) / 100 : undefined,
  };
  summary.retriedAfterRetryableErrors = retried;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  await engine.close();
}
