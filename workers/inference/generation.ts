/**
 * What a caller asks of one generation and what it gets back, and the clock its times are read on.
 *
 * Why its own module: these shapes are the worker's view of generating a reply, shared by the
 * runner and its generation loop (and meant to outlive the choice of engine).
 */
import type { ChatTurn } from "../../src/types.ts";
import type { TokenStream } from "./TokenStream.ts";

export interface GenerateParams {
  conversationKey: string;
  systemPrompt: string;
  /** Earlier turns, oldest first, already fitted with `fitHistory`. */
  history: readonly ChatTurn[];
  /** The new user message (already in `history`'s format: name prefix applied by `renderUserText`). */
  userText: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  signal?: AbortSignal;
  /** Called after every generated token; read `stream.text()` for the current snapshot. */
  onToken?: (stream: TokenStream) => void;
  /** Called once, when the prompt has been evaluated and the first token is out. */
  onEvaluationStart?: () => void;
}

export interface GenerateResult {
  text: string;
  generatedTokens: number;
  stopReason: "eos" | "maxTokens" | "abort";
  /** Prompt tokens this turn actually evaluated (the rest were reused from the sequence). */
  evaluatedInputTokens: number;
  /** Tokens of the whole prompt (system prompt, history, the new message, the reply's opening). */
  promptTokens: number;
  /** Prompt tokens the sequence already held (`promptTokens - evaluatedInputTokens`). */
  reusedTokens: number;
  /** The sequence's state was loaded back from disk for this turn. */
  restoredFromDisk: boolean;
  /** From the call to the first generated token (ms). */
  ttftMs: number;
  totalMs: number;
  /**
   * Wall-clock times (ms since the epoch, fractional): the call; the prompt handed to the batch
   * scheduler (sequence chosen, state restored, prompt built — before the batch window and the
   * step barrier); the first generated token.
   */
  startedAt: number;
  evaluationStartedAt: number;
  firstTokenAt: number;
  /** Index of the sequence used (for tests and metrics). */
  slot: number;
  /**
   * Tokens of the reasoning a thinking model did before its answer (Qwen3's `<think>…</think>`,
   * markers included); 0 when it did none. The thought is never in `text`, so it is neither posted
   * nor stored in memory.
   */
  thoughtTokens: number;
  /** How long that reasoning took (ms, from the first generated token to the end of the thought, or of the reply if it never ended); 0 without one. */
  thoughtMs: number;
}

/** Wall-clock time in ms since the epoch, fractional: the clock of GenerateResult's times. */
export const now = (): number => performance.timeOrigin + performance.now();
