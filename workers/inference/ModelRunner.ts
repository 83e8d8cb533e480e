/**
 * Generates replies on one loaded model: one context, N sequences, N replies at once.
 *
 * - Batching: every running reply asks for its next token at the same moment (StepBarrier), so
 *   each step is one batch with all of them instead of a batch and a straggler.
 * - Prefix reuse: a conversation goes back to the sequence that still holds its tokens, and its
 *   prompt is rebuilt on the tokens the sequence really holds (reuseKnownTokens), so a follow-up
 *   turn evaluates only what is new: the user's message and the template around it. A
 *   conversation with no sequence gets the least-recently-used free one (empty ones first).
 * - Evicted state: a conversation pushed out of its sequence has its evaluated state saved to disk
 *   (SequenceStateCache) and restored when it comes back.
 */
import os from "node:os";
import path from "node:path";
import {
  type ChatHistoryItem,
  type ChatWrapper,
  type LlamaContextSequence,
  LlamaText,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import type { ChatTurn } from "../../src/types.ts";
import type { LoadedModel } from "./loadModel.ts";
import { reuseKnownTokens } from "./reuseKnownTokens.ts";
import { SequenceStateCache, type SequenceStateCacheOptions } from "./SequenceStateCache.ts";
import { StepBarrier } from "./StepBarrier.ts";

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

export interface ModelRunnerOptions {
  /**
   * Save the state of conversations pushed out of their sequence to disk and restore it when
   * they return. Default: a folder under the OS temp dir, at most 1 GiB. `false`: off.
   */
  stateCache?: SequenceStateCacheOptions | false;
  /** Release all running replies' next tokens together, one batch per step (default true). */
  lockstep?: boolean;
  /**
   * Benchmarks only: an end-of-generation token is replaced by a newline and generation goes
   * on, so every reply is exactly `maxTokens` long. Never set in production.
   */
  ignoreEndOfGeneration?: boolean;
  /**
   * When a reply arrives at an idle model, wait this long (ms) before evaluating its prompt, so
   * that replies arriving in the same burst start together: their prompts share batches, and their
   * jobs are picked up from Redis while the CPU is still free (a prompt evaluation saturates every
   * core it is given). Not applied while other replies are generating — a newcomer joins them at
   * the next step anyway. Default 20 (invisible next to chat platforms' edit intervals).
   */
  batchWindowMs?: number;
  /** Called for every generated token, with when it came out (metrics, the benchmark). */
  onTokenGenerated?: (conversationKey: string, at: number) => void;
}

/** Default folder of saved sequence states. */
function defaultStateCacheDir(): string {
  return path.join(os.tmpdir(), "qwenbot-sequence-state");
}

const now = () => performance.timeOrigin + performance.now();

/** Snapshot access to a reply being generated. Multi-byte characters are never split. */
export class TokenStream {
  readonly tokens: Token[] = [];
  /** Text of `tokens[0, doneCount)`, which ends on a character boundary. */
  private doneText = "";
  private doneCount = 0;

  /**
   * @param detokenize decodes tokens; `previous` are the tokens just before them (for tokenizers
   *   whose decoding depends on context).
   * @param holdBack text stop triggers: a reply ending with the start of one is held back.
   */
  constructor(
    private readonly detokenize: (tokens: readonly Token[], previous?: readonly Token[]) => string,
    private readonly holdBack: readonly string[] = [],
  ) {}

  /** Everything decoded, including an incomplete character at the end. */
  private decode(): { text: string; complete: boolean } {
    if (this.tokens.length < this.doneCount) {
      this.doneText = "";
      this.doneCount = 0;
    }
    const tail = this.tokens.slice(this.doneCount);
    const tailText = tail.length === 0 ? "" : this.detokenize(tail, this.tokens.slice(Math.max(0, this.doneCount - 4), this.doneCount));
    // A token boundary inside a character decodes as U+FFFD at the end: hold it back until complete.
    let end = tailText.length;
    while (end > 0 && tailText.charCodeAt(end - 1) === 0xfffd && tailText.length - end < 4) end--;
    const complete = end === tailText.length;
    if (complete) {
      this.doneText += tailText;
      this.doneCount = this.tokens.length;
      return { text: this.doneText, complete };
    }
    return { text: this.doneText + tailText.slice(0, end), complete };
  }

  /** The text so far without a trailing incomplete UTF-8 character (the final text of a reply). */
  completeText(): string {
    return this.decode().text;
  }

  /** The text so far, without a trailing incomplete UTF-8 character or the start of a stop trigger. */
  text(): string {
    const s = this.decode().text;
    for (const trigger of this.holdBack) {
      for (let n = Math.min(trigger.length - 1, s.length); n > 0; n--) {
        if (s.endsWith(trigger.slice(0, n))) return s.slice(0, s.length - n);
      }
    }
    return s;
  }
}

interface Slot {
  index: number;
  sequence: LlamaContextSequence;
  conversationKey?: string;
  /**
   * Tokens the conversation in this sequence consists of: its last prompt and the reply generated
   * after it. The sequence state holds them, except perhaps the last generated token.
   */
  known: Token[];
  lastUsed: number;
  busy: boolean;
}

interface StopTriggers {
  /** Special-token sequences that end a reply. */
  tokens: Token[][];
  /** Texts that end a reply. */
  texts: string[];
}

export class ModelRunner {
  private readonly slots: Slot[] = [];
  private clock = 0;
  private readonly chatWrapper: ChatWrapper;
  private readonly barrier = new StepBarrier();
  /** The batch window in progress, which replies arriving at an idle model wait for together. */
  private gathering: Promise<void> | undefined;
  private readonly stops: StopTriggers;
  private readonly filler: Token;
  /** Saved state of conversations pushed out of their sequence (undefined: off). */
  readonly stateCache: SequenceStateCache | undefined;

  constructor(
    readonly loaded: LoadedModel,
    private readonly options: ModelRunnerOptions = {},
  ) {
    const { context, model } = loaded;
    while (context.sequencesLeft > 0) {
      const sequence = context.getSequence();
      this.slots.push({ index: this.slots.length, sequence, known: [], lastUsed: 0, busy: false });
    }
    this.chatWrapper = resolveChatWrapper(model);
    this.stops = this.resolveStopTriggers();
    this.filler = model.tokens.nl ?? model.tokenize("\n", false)[0]!;
    const cache = options.stateCache;
    this.stateCache = cache === false ? undefined : new SequenceStateCache(cache ?? { dir: defaultStateCacheDir() });
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

  /** The sequence that holds `conversationKey`, if any. */
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

  /** The prompt's tokens as the chat template renders them (system prompt, turns, the reply's opening). */
  renderPrompt(systemPrompt: string, history: readonly ChatTurn[], userText: string): Token[] {
    const chatHistory: ChatHistoryItem[] = [{ type: "system", text: systemPrompt }];
    for (const turn of history) {
      chatHistory.push(turn.role === "user" ? { type: "user", text: turn.text } : { type: "model", response: [turn.text] });
    }
    chatHistory.push({ type: "user", text: userText }, { type: "model", response: [] });
    const { contextText } = this.chatWrapper.generateContextState({ chatHistory });
    return contextText.tokenize(this.loaded.model.tokenizer);
  }

  private resolveStopTriggers(): StopTriggers {
    const { model } = this.loaded;
    const { stopGenerationTriggers } = this.chatWrapper.generateContextState({ chatHistory: [{ type: "model", response: [] }] });
    const tokens: Token[][] = [];
    const texts: string[] = [];
    for (const trigger of stopGenerationTriggers) {
      const ids = LlamaText(trigger).tokenize(model.tokenizer);
      if (ids.length > 0 && ids.every((t) => model.isSpecialToken(t))) tokens.push(ids);
      else {
        const text = LlamaText(trigger).toString();
        if (text.length > 0) texts.push(text);
      }
    }
    return { tokens, texts };
  }

  /**
   * Take a free sequence for `conversationKey`: its own; else an empty one; else the least recently
   * used. Among those, one next to the sequences generating now: llama.cpp decodes a batch in one
   * pass only over consecutive sequence ids (see StepBarrier), so a gap costs a pass per step.
   */
  private acquire(conversationKey: string): { slot: Slot; evicted?: { key: string; known: Token[] } } {
    const free = this.slots.filter((s) => !s.busy);
    if (free.length === 0) throw new Error("no free sequence: more concurrent generations than WORKER_CONCURRENCY");
    let slot = free.find((s) => s.conversationKey === conversationKey);
    if (!slot) {
      const busy = this.slots.filter((s) => s.busy).map((s) => s.index);
      const runs = (extra: number) => {
        const ids = [...busy, extra].sort((a, b) => a - b);
        return ids.filter((id, i) => i === 0 || id !== ids[i - 1]! + 1).length;
      };
      const empty = (s: Slot) => s.conversationKey === undefined && s.sequence.nextTokenIndex === 0;
      slot = free.reduce((best, s) => {
        const e = Number(empty(best)) - Number(empty(s));
        if (e !== 0) return e < 0 ? s : best;
        const r = runs(s.index) - runs(best.index);
        if (r !== 0) return r < 0 ? s : best;
        return s.lastUsed < best.lastUsed ? s : best;
      });
    }
    const evicted =
      slot.conversationKey !== undefined && slot.conversationKey !== conversationKey
        ? { key: slot.conversationKey, known: slot.known }
        : undefined;
    if (slot.conversationKey !== conversationKey) slot.known = [];
    slot.busy = true;
    slot.conversationKey = conversationKey;
    slot.lastUsed = ++this.clock;
    return { slot, evicted };
  }

  async generate(params: GenerateParams): Promise<GenerateResult> {
    const startedAt = now();
    const { slot, evicted } = this.acquire(params.conversationKey);
    const { model } = this.loaded;
    const { sequence } = slot;
    try {
      let restoredFromDisk = false;
      if (this.stateCache) {
        if (evicted) await this.stateCache.save(evicted.key, sequence, evicted.known);
        if (slot.known.length === 0 && this.stateCache.has(params.conversationKey)) {
          const known = await this.stateCache.restore(params.conversationKey, sequence);
          if (known) {
            slot.known = known;
            restoredFromDisk = true;
          }
        }
      }
      const fresh = this.renderPrompt(params.systemPrompt, params.history, params.userText);
      const prompt = reuseKnownTokens(fresh, slot.known, {
        isSpecialToken: (t) => model.isSpecialToken(t),
        detokenize: (t) => model.detokenize(t, false),
      });
      // Keep what the sequence already holds of this prompt; at least one token is evaluated to get the first reply token.
      const state = sequence.contextTokens;
      let keep = 0;
      const limit = Math.min(state.length, prompt.length - 1);
      while (keep < limit && state[keep] === prompt[keep]) keep++;
      if (keep < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{ start: keep, end: sequence.nextTokenIndex }]);
      const input = prompt.slice(keep);
      slot.known = [...prompt];
      const run = await this.run(slot, input, params);
      return {
        ...run,
        evaluatedInputTokens: input.length,
        promptTokens: prompt.length,
        reusedTokens: keep,
        restoredFromDisk,
        ttftMs: (run.firstTokenAt || run.endedAt) - startedAt,
        totalMs: run.endedAt - startedAt,
        startedAt,
        slot: slot.index,
      };
    } catch (err) {
      // The sequence state is unknown after a failure: let the next user start it afresh.
      slot.conversationKey = undefined;
      slot.known = [];
      await sequence.clearHistory().catch(() => {});
      throw err;
    } finally {
      slot.busy = false;
      slot.lastUsed = ++this.clock;
    }
  }

  /** Evaluate `input` and generate the reply, one barrier step per token. */
  private async run(
    slot: Slot,
    input: Token[],
    params: GenerateParams,
  ): Promise<
    Pick<GenerateResult, "text" | "generatedTokens" | "stopReason" | "evaluationStartedAt" | "firstTokenAt"> & { endedAt: number }
  > {
    const { model } = this.loaded;
    const stream = new TokenStream((tokens, previous) => model.detokenize(tokens, false, previous), this.stops.texts);
    const lockstep = this.options.lockstep !== false;
    const ignoreEog = this.options.ignoreEndOfGeneration === true;
    let stopReason: GenerateResult["stopReason"] = "maxTokens";
    let cutText: number | undefined;
    let firstTokenAt = 0;
    const evaluationStartedAt = now();
    await this.gather();
    const iterator = slot.sequence.evaluate(input, { temperature: params.temperature, topK: params.topK, yieldEogToken: true });
    if (lockstep) this.barrier.join();
    try {
      let replacement: Token | undefined;
      while (stream.tokens.length < params.maxTokens) {
        if (params.signal?.aborted) {
          stopReason = "abort";
          break;
        }
        if (lockstep) await this.barrier.wait(slot.index);
        if (params.signal?.aborted) {
          stopReason = "abort";
          break;
        }
        const step = await iterator.next(replacement);
        replacement = undefined;
        if (step.done) {
          stopReason = "eos";
          break;
        }
        let token = step.value;
        if (firstTokenAt === 0) {
          firstTokenAt = now();
          safely(() => params.onEvaluationStart?.());
        }
        if (model.isEogToken(token)) {
          if (!ignoreEog) {
            stopReason = "eos";
            break;
          }
          token = this.filler;
          replacement = token;
        }
        stream.tokens.push(token);
        slot.known.push(token);
        if (this.options.onTokenGenerated) safely(() => this.options.onTokenGenerated!(params.conversationKey, now()));
        const stopTokens = this.stops.tokens.find((ids) => endsWith(stream.tokens, ids));
        if (stopTokens && !ignoreEog) {
          stream.tokens.length -= stopTokens.length;
          slot.known.length -= stopTokens.length;
          stopReason = "eos";
          break;
        }
        if (this.stops.texts.length > 0 && !ignoreEog) {
          // A trigger can only have been completed by the newest tokens: look at the end only.
          const text = stream.completeText();
          let found = -1;
          for (const t of this.stops.texts) {
            const i = text.indexOf(t, Math.max(0, text.length - t.length - 256));
            if (i >= 0 && (found < 0 || i < found)) found = i;
          }
          if (found >= 0) {
            cutText = found;
            stopReason = "eos";
            break;
          }
        }
        safely(() => params.onToken?.(stream));
      }
    } finally {
      if (lockstep) this.barrier.leave();
      await iterator.return().catch(() => {});
    }
    const endedAt = now();
    const full = stream.completeText();
    return {
      text: cutText === undefined ? full : full.slice(0, cutText),
      generatedTokens: stream.tokens.length,
      stopReason,
      evaluationStartedAt,
      firstTokenAt,
      endedAt,
    };
  }

  /** Wait out the batch window when the model is idle (or join the one in progress). */
  private gather(): Promise<void> | undefined {
    const windowMs = this.options.batchWindowMs ?? 20;
    if (windowMs <= 0 || this.options.lockstep === false) return undefined;
    if (this.gathering) return this.gathering;
    if (this.barrier.size > 0) return undefined;
    this.gathering = new Promise<void>((resolve) => setTimeout(resolve, windowMs)).finally(() => {
      this.gathering = undefined;
    });
    return this.gathering;
  }

  /**
   * Dispose the context (and, unless `keepModel`, the model and the llama.cpp instance) and
   * remove the saved sequence states.
   */
  async close(opts: { keepModel?: boolean } = {}): Promise<void> {
    const { context, model, llama } = this.loaded;
    await this.stateCache?.close();
    await context.dispose();
    if (opts.keepModel) return;
    await model.dispose();
    await llama.dispose();
  }
}

function endsWith(tokens: readonly Token[], tail: readonly Token[]): boolean {
  if (tail.length === 0 || tail.length > tokens.length) return false;
  for (let i = 1; i <= tail.length; i++) if (tokens[tokens.length - i] !== tail[tail.length - i]) return false;
  return true;
}

/** Callbacks never break a generation. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    /* the caller's problem */
  }
}
