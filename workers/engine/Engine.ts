/**
 * The seam between the worker and whatever turns a conversation into text. The worker's queue,
 * inbox, memory, streaming and commit rules are the same for every engine; an engine only fits a
 * history into its context, counts tokens, and streams a reply.
 *
 * Two implementations: `local` (node-llama-cpp in the worker process, workers/engine/local) and
 * `openai` (any server speaking OpenAI's streaming chat completions, workers/engine/openai).
 *
 * Counting is asynchronous because a remote engine counts with its server's tokenizer. Failures
 * are `EngineError`s (src/errors.ts): `retryable` ones are retried like a worker crash.
 */
import type { ChatTurn } from "../../src/types.ts";

export type EngineKind = "local" | "openai";

export interface EngineInfo {
  /** The model: its file name (local) or the name requests carry (openai). */
  model: string;
  /** What runs it, for logs and status: "node-llama-cpp (cuda)", "llama-server", "vLLM", … */
  backend: string;
  /** Tokens one conversation may use (prompt and reply); 0 while a remote engine was never reached. */
  contextSize: number;
  /** How tokens are counted: the model's own tokenizer, the server's tokenizer endpoint, or an estimate. */
  tokenCounter: "model" | "server" | "estimate";
}

export interface FittedHistory {
  history: ChatTurn[];
  /** Turns left out because they did not fit the context. */
  dropped: number;
  /** Tokens of the new user message with the chat template around it. */
  userTokens: number;
  /** True when the user's message alone does not fit the context with the reply budget. */
  tooLong: boolean;
  /** Most tokens a user message may have here. */
  maxUserTokens: number;
}

/** The engine waits before asking again (429 rate limited, 503 loading); the placeholder can say so. */
export interface EngineWait {
  /** Short, user-presentable: "the model server is busy", "the model server is loading". */
  reason: string;
  retryInMs: number;
  /** The HTTP status that asked for the wait. */
  status?: number;
}

export interface EngineGenerateParams {
  conversationKey: string;
  systemPrompt: string;
  /** Earlier turns, oldest first, already fitted with `fitHistory`. */
  history: readonly ChatTurn[];
  /** The new user message, exactly as it will be stored in the history. */
  userText: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  /** Aborting stops the reply (Stop, shutdown): the result has stopReason "abort" and the text so far. */
  signal?: AbortSignal;
  /** The reply's text so far, after each piece that changed it (never ends inside a character). */
  onText?: (text: string) => void;
  /** The engine is waiting before it asks again; the reply has not started yet. */
  onWait?: (wait: EngineWait) => void;
}

/**
 * Why a reply ended: the model's end of turn; `maxTokens` reached; the engine's context ran out
 * before that (a remote server's finish_reason `length` short of `max_tokens`); stopped.
 */
export type EngineStopReason = "eos" | "maxTokens" | "contextFull" | "abort";

export interface EngineResult {
  text: string;
  generatedTokens: number;
  stopReason: EngineStopReason;
  /** Tokens of the whole prompt (system prompt, history, the new message, the reply's opening); 0 if unknown. */
  promptTokens: number;
  /** Prompt tokens the engine reused from its cache (local: the sequence's; remote: the server's prefix cache), if it says. */
  cachedPromptTokens: number | undefined;
  /** Prompt tokens the engine evaluated for this reply (`promptTokens - cachedPromptTokens` when both are known). */
  evaluatedInputTokens: number;
  /** From the call to the first text (ms); waits on 429/503 included. */
  ttftMs: number;
  totalMs: number;
  /** Of which spent waiting on 429/503 (ms). */
  waitedMs: number;
  /** Wall-clock times (ms since the epoch, fractional): the call, and the first text (0 if none). */
  startedAt: number;
  firstTokenAt: number;
}

export interface Engine {
  readonly kind: EngineKind;
  /** Replies it runs at once: the local context's sequences, or the streams a worker keeps open (WORKER_CONCURRENCY). */
  readonly slots: number;
  readonly info: EngineInfo;
  /** Why it cannot answer now (for /readyz and logs), or undefined when it can. */
  readiness(): string | undefined;
  /**
   * Resolves when the engine can answer (at once for `local`); rejects with a non-retryable
   * EngineError when it never will as configured (unknown model, rejected API key), or when
   * `signal` aborts.
   */
  whenReady(signal?: AbortSignal): Promise<void>;
  /**
   * Keep the newest turns that fit the context beside the system prompt, the new message and the
   * reply budget (a turn's stored `tokens` is used when it has one); the system prompt is always
   * kept and a kept history starts with a user turn.
   */
  fitHistory(systemPrompt: string, history: readonly ChatTurn[], userText: string, maxNewTokens: number): Promise<FittedHistory>;
  /** Tokens a turn with this text takes in the prompt, template included (stored as `ChatTurn.tokens`). */
  turnTokens(text: string): Promise<number>;
  /**
   * Tokens of `text` on its own, at once, for budgeting many candidate texts (a reply's context
   * blocks): exact locally; remotely the estimate (never low by design, scaled up by what the
   * server counted). `fitHistory` has the last word on what fits.
   */
  countTokensSync(text: string): number;
  generate(params: EngineGenerateParams): Promise<EngineResult>;
  close(): Promise<void>;
}
