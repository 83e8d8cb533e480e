/**
 * The `openai` engine: replies come from a server speaking OpenAI's streaming chat completions
 * (llama-server, vLLM, SGLang, Ollama, LM Studio) through the official `openai` client.
 *
 * - Requests: `stream: true` with `stream_options.include_usage`, `max_tokens`, `temperature`,
 *   `top_k` (the servers' extension field) and, for llama-server, `cache_prompt: true`; messages
 *   byte-identical from turn to turn (chatMessages.ts) so the server's prefix cache hits, with
 *   control-token spellings in them broken (and counted as sent).
 * - Retries are the engine's (the client's own are off): a 429 or 503 is waited out (Retry-After,
 *   else doubling from 1 s) up to a limit and reported through `onWait`; every other failure is an
 *   EngineError, `retryable` where the worker should retry the job as after a crash.
 * - Readiness: ServerWatch probes the server until it answers and learns the model, context size,
 *   tokenizer and template overhead (discoverServer.ts); a reply that finds it gone sends it back
 *   to probing.
 * - The API key is only ever handed to the client and the tokenizer requests' header.
 */
import { APIConnectionTimeoutError, OpenAI } from "openai";
import type { Config } from "../../../src/config.ts";
import { EngineError } from "../../../src/errors.ts";
import type { Logger } from "../../../src/logger.ts";
import { neutralizeSpecialTokens as plain } from "../../../src/text/neutralizeSpecialTokens.ts";
import type { ChatTurn } from "../../../src/types.ts";
import type { Engine, EngineGenerateParams, EngineInfo, EngineResult, EngineStopReason, FittedHistory } from "../Engine.ts";
import { fitHistoryAsync } from "../fitHistoryAsync.ts";
import { chatMessages } from "./chatMessages.ts";
import { DEFAULT_TEMPLATE, discoverServer, type ServerFacts } from "./discoverServer.ts";
import { estimateTokens } from "./estimateTokens.ts";
import { sleep } from "./retryAfter.ts";
import { ServerWatch, type ServerWatchOptions } from "./ServerWatch.ts";
import { type ServerHttp, safeUrl, serverHttp } from "./serverHttp.ts";
import { type StreamOutcome, type StreamRequest, streamChat } from "./streamChat.ts";
import { TokenCounter } from "./TokenCounter.ts";

/** Context size when neither the server nor OPENAI_CONTEXT_SIZE says (Ollama's default num_ctx). */
export const FALLBACK_CONTEXT_SIZE = 4096;

export interface OpenAIEngineOptions {
  baseURL: string;
  apiKey?: string;
  /** The model requests carry (default: the first the server lists). */
  model?: string;
  /** Longest wait for the first byte of an answer and between two chunks of a stream. */
  timeoutMs: number;
  /** Tokens per conversation (at most what the server reports). */
  contextSize?: number;
  /** Streams kept open at once (WORKER_CONCURRENCY). */
  slots: number;
  logger: Logger;
  /** 429/503 waits per reply: at most `maxWaits` (default 6), `maxWaitMs` in all (default 120 000). */
  maxWaits?: number;
  maxWaitMs?: number;
  /** First wait when a 429/503 gives no Retry-After (doubles each time; default 1000). */
  fallbackWaitMs?: number;
  watch?: ServerWatchOptions;
}

export function openAIEngineOptions(config: Config, logger: Logger): OpenAIEngineOptions {
  if (!config.OPENAI_BASE_URL) throw new EngineError("ENGINE_UNAVAILABLE", "OPENAI_BASE_URL is not set", { retryable: false });
  return {
    baseURL: config.OPENAI_BASE_URL,
    apiKey: config.OPENAI_API_KEY,
    model: config.OPENAI_MODEL,
    timeoutMs: config.OPENAI_TIMEOUT_MS,
    contextSize: config.OPENAI_CONTEXT_SIZE,
    slots: config.WORKER_CONCURRENCY,
    logger,
  };
}

export class OpenAIEngine implements Engine {
  readonly kind = "openai" as const;
  readonly slots: number;
  readonly client: OpenAI;
  private readonly http: ServerHttp;
  private readonly watch: ServerWatch;
  private readonly log: Logger;
  private counter: TokenCounter | undefined;
  private contextSize = 0;

  /** Construct and start probing the server (returns at once; see `whenReady`). */
  static start(options: OpenAIEngineOptions): OpenAIEngine {
    const engine = new OpenAIEngine(options);
    engine.watch.start();
    return engine;
  }

  constructor(private readonly options: OpenAIEngineOptions) {
    this.slots = options.slots;
    const where = safeUrl(options.baseURL);
    this.log = options.logger.child({ engine: "openai" });
    // Every option the client would otherwise read from the environment is given, so only
    // src/config.ts reads it. Without a key, no Authorization header is sent at all.
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey ?? "no-key",
      defaultHeaders: options.apiKey ? undefined : { Authorization: null },
      organization: null,
      project: null,
      webhookSecret: null,
      timeout: options.timeoutMs,
      maxRetries: 0,
      logLevel: "off",
    });
    this.http = serverHttp(options.baseURL, options.apiKey, options.timeoutMs);
    this.watch = new ServerWatch(
      () => discoverServer(this.client, this.http, options.model),
      this.log,
      where,
      (f) => this.apply(f),
      options.watch,
    );
  }

  get info(): EngineInfo {
    const facts = this.watch.lastKnown;
    return {
      model: facts?.model ?? this.options.model ?? "(not known yet)",
      backend: facts?.backend ?? "OpenAI-compatible",
      contextSize: this.contextSize,
      tokenCounter: facts === undefined || facts.tokenizer === "estimate" ? "estimate" : "server",
    };
  }

  /** What the server told the engine the last time it answered (tests, status). */
  get server(): ServerFacts | undefined {
    return this.watch.lastKnown;
  }

  /** The token counter in use (tests, status). */
  get tokens(): TokenCounter | undefined {
    return this.counter;
  }

  readiness(): string | undefined {
    return this.watch.readiness();
  }

  async whenReady(signal?: AbortSignal): Promise<void> {
    await this.watch.whenReady(signal);
  }

  private apply(facts: ServerFacts): void {
    const override = this.options.contextSize;
    const server = facts.serverContextSize;
    this.contextSize = override !== undefined ? Math.min(override, server ?? override) : (server ?? FALLBACK_CONTEXT_SIZE);
    if (this.counter?.kind !== facts.tokenizer || this.counter === undefined)
      this.counter = new TokenCounter(facts.tokenizer, this.http, facts.model, this.log);
    this.log.info(
      {
        backend: facts.backend,
        model: facts.model,
        contextSize: this.contextSize,
        tokenizer: facts.tokenizer,
        template: facts.template,
        serverSlots: facts.totalSlots,
      },
      "model server ready",
    );
    if (override !== undefined && server !== undefined && override > server)
      this.log.warn({ configured: override, server }, "OPENAI_CONTEXT_SIZE is larger than the server's context; using the server's");
    if (override === undefined && server === undefined)
      this.log.warn(
        { contextSize: this.contextSize },
        "the server does not report its context size; set OPENAI_CONTEXT_SIZE to its real one",
      );
    if (facts.totalSlots !== undefined && facts.totalSlots < this.slots)
      this.log.warn(
        { serverSlots: facts.totalSlots, workerConcurrency: this.slots },
        "the server runs fewer parallel slots than this worker's WORKER_CONCURRENCY: the extra replies queue on the server",
      );
  }

  private known(): { facts: ServerFacts; counter: TokenCounter } {
    if (this.watch.failed) throw this.watch.failed;
    const facts = this.watch.lastKnown;
    if (!facts || !this.counter)
      throw new EngineError("ENGINE_UNAVAILABLE", this.watch.readiness() ?? "the model server was never reached");
    return { facts, counter: this.counter };
  }

  async fitHistory(systemPrompt: string, history: readonly ChatTurn[], userText: string, maxNewTokens: number): Promise<FittedHistory> {
    const { facts, counter } = this.known();
    return fitHistoryAsync(
      { contextSize: this.contextSize, countTokens: (t) => counter.count(plain(t)), ...templateOf(facts) },
      systemPrompt,
      history,
      userText,
      maxNewTokens,
    );
  }

  async turnTokens(text: string): Promise<number> {
    const facts = this.watch.lastKnown;
    const overhead = facts ? facts.template.turnOverheadTokens : DEFAULT_TEMPLATE.turnOverheadTokens;
    return (this.counter ? await this.counter.count(plain(text)) : estimateTokens(plain(text))) + overhead;
  }

  countTokensSync(text: string): number {
    return this.counter ? this.counter.estimate(plain(text)) : estimateTokens(plain(text));
  }

  async generate(params: EngineGenerateParams): Promise<EngineResult> {
    const startedAt = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    const { facts, counter } = this.known();
    const messages = chatMessages(params.systemPrompt, params.history, params.userText);
    const body: StreamRequest["body"] = {
      model: facts.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: params.maxTokens,
      temperature: params.temperature,
      top_k: params.topK,
      ...(facts.backend === "llama-server" ? { cache_prompt: true } : {}),
    };
    const maxWaits = this.options.maxWaits ?? 6;
    const maxWaitMs = this.options.maxWaitMs ?? 120_000;
    let delay = this.options.fallbackWaitMs ?? 1000;
    let waits = 0;
    let waitedMs = 0;
    for (;;) {
      let out: StreamOutcome;
      try {
        out = await streamChat({
          client: this.client,
          body,
          timeoutMs: this.options.timeoutMs,
          signal: params.signal,
          onText: params.onText,
        });
      } catch (err) {
        // Unreachable: not ready until a probe reaches it. (Slow to answer is not unreachable.)
        if (err instanceof EngineError && err.code === "ENGINE_UNAVAILABLE" && !(err.cause instanceof APIConnectionTimeoutError))
          this.watch.lost(err);
        throw err;
      }
      if (out.kind === "done") {
        if (counter.kind === "estimate" && out.usage?.prompt_tokens)
          counter.observe(this.estimatePrompt(params, facts, counter), out.usage.prompt_tokens);
        return this.result(out, params.maxTokens, { t0, startedAt, waitedMs });
      }
      const wait = out.retryAfterMs ?? delay;
      delay = Math.min(delay * 2, 30_000);
      if (waits >= maxWaits || waitedMs + wait > maxWaitMs)
        throw new EngineError("ENGINE_BUSY", `${out.message} (still, after ${waits} waits over ${Math.round(waitedMs / 1000)} s)`, {
          status: out.status,
        });
      waits++;
      const reason = out.status === 429 ? "the model server is busy" : "the model server is loading or overloaded";
      this.log.info({ status: out.status, retryInMs: Math.round(wait), waits }, `${reason}; waiting before asking again`);
      try {
        params.onWait?.({ reason, retryInMs: wait, status: out.status });
      } catch {
        /* the caller's problem */
      }
      const t = performance.now();
      const waited = await sleep(wait, params.signal);
      waitedMs += performance.now() - t;
      if (!waited) {
        const end = performance.now();
        const result = { kind: "done", text: "", pieces: 0, finishReason: undefined, aborted: true } as const;
        return this.result({ ...result, usage: undefined, timings: undefined, firstTextAt: 0 }, params.maxTokens, {
          t0,
          startedAt,
          waitedMs,
          end,
        });
      }
    }
  }

  private result(
    out: Extract<StreamOutcome, { kind: "done" }>,
    maxTokens: number,
    at: { t0: number; startedAt: number; waitedMs: number; end?: number },
  ): EngineResult {
    const end = at.end ?? performance.now();
    const generatedTokens = out.usage?.completion_tokens ?? out.timings?.predicted_n ?? out.pieces;
    let stopReason: EngineStopReason = "eos";
    if (out.aborted) stopReason = "abort";
    else if (out.finishReason === "length") stopReason = generatedTokens >= maxTokens ? "maxTokens" : "contextFull";
    const timings = out.timings;
    const promptTokens = out.usage?.prompt_tokens ?? (timings ? (timings.cache_n ?? 0) + (timings.prompt_n ?? 0) : 0);
    const cachedPromptTokens = out.usage?.prompt_tokens_details?.cached_tokens ?? timings?.cache_n;
    const evaluatedInputTokens = timings?.prompt_n ?? promptTokens - (cachedPromptTokens ?? 0);
    return {
      text: out.text,
      generatedTokens,
      stopReason,
      promptTokens,
      cachedPromptTokens,
      evaluatedInputTokens,
      ttftMs: (out.firstTextAt || end) - at.t0,
      totalMs: end - at.t0,
      waitedMs: at.waitedMs,
      startedAt: at.startedAt,
      firstTokenAt: out.firstTextAt ? performance.timeOrigin + out.firstTextAt : 0,
    };
  }

  /** The estimate of a whole prompt, to compare with the server's count. */
  private estimatePrompt(params: EngineGenerateParams, facts: ServerFacts, counter: TokenCounter): number {
    const { turnOverheadTokens, replyPrefixTokens } = templateOf(facts);
    const est = (t: string) => counter.estimate(plain(t));
    let n = est(params.systemPrompt) + est(params.userText) + 2 * turnOverheadTokens + replyPrefixTokens;
    for (const turn of params.history) n += est(turn.text) + turnOverheadTokens;
    return n;
  }

  async close(): Promise<void> {
    this.watch.close();
  }
}

function templateOf(facts: ServerFacts): { turnOverheadTokens: number; replyPrefixTokens: number } {
  return { turnOverheadTokens: facts.template.turnOverheadTokens, replyPrefixTokens: facts.template.replyPrefixTokens };
}
