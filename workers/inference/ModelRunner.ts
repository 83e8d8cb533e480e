/**
 * Generates replies on one loaded model: one context, N sequences, N replies at once.
 *
 * - Batching: every running reply asks for its next token at the same moment (StepBarrier), so
 *   each step is one batch with all of them instead of a batch and a straggler (GenerationLoop).
 * - Prefix reuse: a conversation goes back to the sequence that still holds its tokens
 *   (SequencePool), and its prompt is rebuilt on the tokens the sequence really holds
 *   (reuseKnownTokens), so a follow-up turn evaluates only what is new: the user's message and the
 *   template around it. A conversation with no sequence gets the least-recently-used free one
 *   (empty ones first).
 * - Evicted state: a conversation pushed out of its sequence has its evaluated state saved to disk
 *   (SequenceStateCache) and restored when it comes back.
 * - Prompts: the model's own chat template (ChatTemplate), whatever the model (Qwen2/2.5/3, Llama 3,
 *   Gemma, …); a reasoning model's thought is kept out of the reply's text (TokenStream).
 * - History fitting: fitHistory with this model's token counts and the template's overheads as
 *   measured on it, then checked on the rendered prompt itself.
 *
 * This module ties those together for one call (`generate`) and is the worker's only handle on the model.
 */
import os from "node:os";
import path from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { ChatTurn } from "../../src/types.ts";
import { ChatTemplate } from "./ChatTemplate.ts";
import { type FittedHistory, fitHistory, type TokenBudget, turnTokens } from "./fitHistory.ts";
import { GenerationLoop, type GenerationLoopOptions } from "./GenerationLoop.ts";
import { type GenerateParams, type GenerateResult, now } from "./generation.ts";
import type { LoadedModel } from "./loadModel.ts";
import { reuseKnownTokens } from "./reuseKnownTokens.ts";
import { SequencePool } from "./SequencePool.ts";
import { SequenceStateCache, type SequenceStateCacheOptions } from "./SequenceStateCache.ts";

export type { FittedHistory } from "./fitHistory.ts";
export type { GenerateParams, GenerateResult } from "./generation.ts";
export { TokenStream } from "./TokenStream.ts";

export interface ModelRunnerOptions extends GenerationLoopOptions {
  /**
   * Save the state of conversations pushed out of their sequence to disk and restore it when
   * they return. Default: a folder under the OS temp dir, at most 1 GiB. `false`: off.
   */
  stateCache?: SequenceStateCacheOptions | false;
}

/** What a rendered prompt depends on, as one string. */
function promptKey(systemPrompt: string, history: readonly ChatTurn[], userText: string): string {
  return JSON.stringify([systemPrompt, history.map((t) => [t.role, t.text]), userText]);
}

/** Default folder of saved sequence states. */
function defaultStateCacheDir(): string {
  return path.join(os.tmpdir(), "qwenbot-sequence-state");
}

export class ModelRunner {
  private readonly pool: SequencePool;
  private readonly template: ChatTemplate;
  private readonly loop: GenerationLoop;
  /** This model's token counts and its template's overheads, for fitHistory. */
  private readonly budget: TokenBudget;
  /** Prompts fitHistory rendered and accepted, by their texts, so that the generation that follows does not render them again. */
  private readonly fitted = new Map<string, Token[]>();
  /** Saved state of conversations pushed out of their sequence (undefined: off). */
  readonly stateCache: SequenceStateCache | undefined;

  constructor(
    readonly loaded: LoadedModel,
    options: ModelRunnerOptions = {},
  ) {
    const { context, model } = loaded;
    this.pool = new SequencePool(context);
    this.template = new ChatTemplate(model, loaded.chatWrapper);
    this.loop = new GenerationLoop(model, this.template.stops, options, this.template.thought);
    const runner = this;
    this.budget = {
      get contextSize() {
        return runner.contextSize;
      },
      countTokens: (text) => this.countTokens(text),
      turnOverheadTokens: this.template.turnOverheadTokens,
      replyPrefixTokens: this.template.replyPrefixTokens,
    };
    const cache = options.stateCache;
    this.stateCache = cache === false ? undefined : new SequenceStateCache(cache ?? { dir: defaultStateCacheDir() });
  }

  get contextSize(): number {
    return this.loaded.context.contextSize;
  }

  /** The chat template's name as node-llama-cpp resolved it ("ChatML", "Qwen", "Llama 3", "Gemma", "Jinja", …). */
  get chatTemplate(): string {
    return this.template.name;
  }

  /** What the chat template adds around each message and besides them, as measured on it (see ChatTemplate). */
  get templateOverheads(): { turnOverheadTokens: number; replyPrefixTokens: number } {
    return { turnOverheadTokens: this.template.turnOverheadTokens, replyPrefixTokens: this.template.replyPrefixTokens };
  }

  get sequences(): number {
    return this.pool.size;
  }

  /** Which conversation each sequence holds (tests, status). */
  holders(): Array<string | undefined> {
    return this.pool.holders();
  }

  /** The sequence that holds `conversationKey`, if any. */
  sequenceFor(conversationKey: string): LlamaContextSequence | undefined {
    return this.pool.sequenceFor(conversationKey);
  }

  countTokens(text: string): number {
    return this.loaded.model.tokenize(text, false).length;
  }

  turnTokens(turn: Pick<ChatTurn, "text">): number {
    return turnTokens(this.budget, turn);
  }

  /**
   * Keep the newest turns that fit the context beside the system prompt, the new message and
   * the reply budget; older ones are left out (the system prompt is always kept).
   *
   * First by counts (fitHistory, with the template's measured overheads and the turns' stored
   * counts, which an earlier model may have made), then on the prompt as the template renders it:
   * while it does not fit, the oldest turns go (up to the next user turn).
   */
  fitHistory(systemPrompt: string, history: readonly ChatTurn[], userText: string, maxNewTokens: number): FittedHistory {
    const fit = fitHistory(this.budget, systemPrompt, history, userText, maxNewTokens);
    if (fit.tooLong) return fit;
    const limit = this.contextSize - maxNewTokens;
    let start = fit.dropped;
    let prompt = this.renderPrompt(systemPrompt, history.slice(start), userText);
    while (prompt.length > limit) {
      if (start >= history.length) {
        return {
          ...fit,
          history: [],
          dropped: history.length,
          tooLong: true,
          maxUserTokens: Math.min(fit.maxUserTokens, fit.userTokens - 1),
        };
      }
      start++;
      while (start < history.length && history[start]!.role !== "user") start++;
      prompt = this.renderPrompt(systemPrompt, history.slice(start), userText);
    }
    const kept = history.slice(start);
    this.fitted.set(promptKey(systemPrompt, kept, userText), prompt);
    while (this.fitted.size > 2 * this.sequences) this.fitted.delete(this.fitted.keys().next().value!);
    return { ...fit, history: kept, dropped: start };
  }

  /** The prompt's tokens as the chat template renders them (system prompt, turns, the reply's opening). */
  renderPrompt(systemPrompt: string, history: readonly ChatTurn[], userText: string): Token[] {
    return this.template.render(systemPrompt, history, userText);
  }

  async generate(params: GenerateParams): Promise<GenerateResult> {
    const startedAt = now();
    const { slot, evicted } = this.pool.acquire(params.conversationKey);
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
      const key = promptKey(params.systemPrompt, params.history, params.userText);
      const fresh = this.fitted.get(key) ?? this.renderPrompt(params.systemPrompt, params.history, params.userText);
      this.fitted.delete(key);
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
      const run = await this.loop.run(slot, input, params);
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
      this.pool.forget(slot);
      await sequence.clearHistory().catch(() => {});
      throw err;
    } finally {
      this.pool.release(slot);
    }
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
