/**
 * Generates replies on one loaded model: one context, N sequences, N replies at once (batched by
 * node-llama-cpp). A conversation goes back to the sequence that still holds its tokens, so a
 * follow-up turn evaluates only what is new; the least-recently-used free sequence is handed to a
 * conversation that has none.
 */
import { LlamaChat, type ChatHistoryItem, type LlamaContextSequence, type Token } from "node-llama-cpp";
import type { ChatTurn } from "../../src/types.ts";
import type { LoadedModel } from "./loadModel.ts";

/** `<|im_start|>role\n` … `<|im_end|>\n`: the template tokens around each ChatML message. */
const TURN_OVERHEAD_TOKENS = 5;
/** `<|im_start|>assistant\n` opening the reply. */
const REPLY_PREFIX_TOKENS = 3;

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
  /** Called once, when the prompt has been evaluated and generation starts. */
  onEvaluationStart?: () => void;
}

export interface GenerateResult {
  text: string;
  generatedTokens: number;
  stopReason: "eos" | "maxTokens" | "abort";
  /** Prompt tokens this turn actually evaluated (the rest were reused from the sequence). */
  evaluatedInputTokens: number;
  ttftMs: number;
  totalMs: number;
  /** Index of the sequence used (for tests and metrics). */
  slot: number;
}

export interface FittedHistory {
  history: ChatTurn[];
  /** Turns left out because they did not fit the context. */
  dropped: number;
  userTokens: number;
  /** True when the user's message alone does not fit the context with the reply budget. */
  tooLong: boolean;
  /** Most tokens a user message may have here. */
  maxUserTokens: number;
}

/** Snapshot access to a reply being generated. Multi-byte characters are never split. */
export class TokenStream {
  readonly tokens: Token[] = [];
  constructor(private readonly detokenize: (tokens: readonly Token[]) => string) {}
  /** The text so far, without a trailing incomplete UTF-8 character. */
  text(): string {
    const s = this.detokenize(this.tokens);
    let end = s.length;
    // A token boundary inside a character decodes as U+FFFD at the end: hold it back until complete.
    while (end > 0 && s.charCodeAt(end - 1) === 0xfffd && s.length - end < 4) end--;
    return s.slice(0, end);
  }
}

interface Slot {
  index: number;
  sequence: LlamaContextSequence;
  chat: LlamaChat;
  conversationKey?: string;
  lastUsed: number;
  busy: boolean;
}

export class ModelRunner {
  private readonly slots: Slot[] = [];
  private clock = 0;

  constructor(readonly loaded: LoadedModel) {
    const { context } = loaded;
    while (context.sequencesLeft > 0) {
      const sequence = context.getSequence();
      this.slots.push({ index: this.slots.length, sequence, chat: new LlamaChat({ contextSequence: sequence }), lastUsed: 0, busy: false });
    }
  }

  get contextSize(): number {
    return this.loaded.context.contextSize;
  }

  get sequences(): number {
    return this.slots.length;
  }

  /** Which conversation each sequence holds (tests, status). */
  holders(): Array<string | undefined> {
    return this.slots.map((s) => s.conversationKey);
  }

  /** Tokens currently held by the sequence that holds `conversationKey`, if any. */
  sequenceFor(conversationKey: string): LlamaContextSequence | undefined {
    return this.slots.find((s) => s.conversationKey === conversationKey)?.sequence;
  }

  countTokens(text: string): number {
    return this.loaded.model.tokenize(text, false).length;
  }

  turnTokens(turn: Pick<ChatTurn, "text">): number {
    return this.countTokens(turn.text) + TURN_OVERHEAD_TOKENS;
  }

  /**
   * Keep the newest turns that fit the context beside the system prompt, the new message and
   * the reply budget; older ones are left out (the system prompt is always kept).
   */
  fitHistory(systemPrompt: string, history: readonly ChatTurn[], userText: string, maxNewTokens: number): FittedHistory {
    const fixed = this.countTokens(systemPrompt) + TURN_OVERHEAD_TOKENS + REPLY_PREFIX_TOKENS + maxNewTokens;
    const userTokens = this.countTokens(userText) + TURN_OVERHEAD_TOKENS;
    const maxUserTokens = this.contextSize - fixed - TURN_OVERHEAD_TOKENS;
    if (fixed + userTokens > this.contextSize) return { history: [], dropped: history.length, userTokens, tooLong: true, maxUserTokens };
    let budget = this.contextSize - fixed - userTokens;
    let start = history.length;
    while (start > 0) {
      const turn = history[start - 1]!;
      const cost = turn.tokens ?? this.turnTokens(turn);
      if (cost > budget) break;
      budget -= cost;
      start--;
    }
    // A kept history starts with a user turn, so the model never sees an answer without its question.
    while (start < history.length && history[start]!.role !== "user") start++;
    return { history: history.slice(start), dropped: start, userTokens, tooLong: false, maxUserTokens };
  }

  private acquire(conversationKey: string): Slot {
    const free = this.slots.filter((s) => !s.busy);
    if (free.length === 0) throw new Error("no free sequence: more concurrent generations than WORKER_CONCURRENCY");
    const own = free.find((s) => s.conversationKey === conversationKey);
    const slot = own ?? free.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
    slot.busy = true;
    slot.conversationKey = conversationKey;
    slot.lastUsed = ++this.clock;
    return slot;
  }

  async generate(params: GenerateParams): Promise<GenerateResult> {
    const slot = this.acquire(params.conversationKey);
    const started = performance.now();
    let firstTokenAt = 0;
    const inputBefore = slot.sequence.tokenMeter.usedInputTokens;
    const { model } = this.loaded;
    const stream = new TokenStream((tokens) => model.detokenize(tokens));
    const chatHistory: ChatHistoryItem[] = [{ type: "system", text: params.systemPrompt }];
    for (const turn of params.history) {
      chatHistory.push(turn.role === "user" ? { type: "user", text: turn.text } : { type: "model", response: [turn.text] });
    }
    chatHistory.push({ type: "user", text: params.userText }, { type: "model", response: [] });
    try {
      const result = await slot.chat.generateResponse(chatHistory, {
        maxTokens: params.maxTokens,
        temperature: params.temperature,
        topK: params.topK,
        signal: params.signal,
        stopOnAbortSignal: true,
        onToken: (tokens) => {
          if (firstTokenAt === 0) {
            firstTokenAt = performance.now();
            params.onEvaluationStart?.();
          }
          for (const t of tokens) stream.tokens.push(t);
          params.onToken?.(stream);
        },
      });
      const stopReason = result.metadata.stopReason === "maxTokens" ? "maxTokens" : result.metadata.stopReason === "abort" ? "abort" : "eos";
      const end = performance.now();
      return {
        text: result.response,
        generatedTokens: stream.tokens.length,
        stopReason,
        evaluatedInputTokens: slot.sequence.tokenMeter.usedInputTokens - inputBefore,
        ttftMs: (firstTokenAt || end) - started,
        totalMs: end - started,
        slot: slot.index,
      };
    } catch (err) {
      // The sequence state is unknown after a failure: let the next user start it afresh.
      slot.conversationKey = undefined;
      await slot.sequence.clearHistory().catch(() => {});
      throw err;
    } finally {
      slot.busy = false;
      slot.lastUsed = ++this.clock;
    }
  }

  async close(): Promise<void> {
    const { context, model, llama } = this.loaded;
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}
