/**
 * Evaluates a prompt on one sequence and generates the reply token by token: stop triggers, the
 * token limit, aborts, and the per-token callbacks.
 *
 * - Batching: every running reply asks for its next token at the same moment (StepBarrier), so
 *   each step is one batch with all of them instead of a batch and a straggler.
 * - Batch window: a reply arriving at an idle model waits a moment so that a burst starts together.
 * - Thoughts: a reasoning model's thought is kept out of the reply's text (TokenStream) and only
 *   counted and timed.
 *
 * Why its own module: this loop is the hot path of every reply; the runner around it only picks
 * the sequence and builds the prompt.
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import type { StopTriggers, ThoughtMarkers } from "./ChatTemplate.ts";
import { type GenerateParams, type GenerateResult, now } from "./generation.ts";
import type { Slot } from "./SequencePool.ts";
import { StepBarrier } from "./StepBarrier.ts";
import { TokenStream } from "./TokenStream.ts";

export interface GenerationLoopOptions {
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
  /**
   * Tests only: the reply's first tokens are these instead of what the model samples (each sampled
   * token is replaced, and the replacement is what the sequence evaluates next), so a test can
   * make a random-weight model think, answer and end its turn. Never set in production.
   */
  scriptedReply?: (conversationKey: string) => readonly Token[] | undefined;
}

/** What one run of the loop produced; the runner adds the prompt's figures. */
export type LoopResult = Pick<
  GenerateResult,
  "text" | "generatedTokens" | "stopReason" | "evaluationStartedAt" | "firstTokenAt" | "thoughtTokens" | "thoughtMs"
> & {
  endedAt: number;
};

export class GenerationLoop {
  private readonly barrier = new StepBarrier();
  /** The batch window in progress, which replies arriving at an idle model wait for together. */
  private gathering: Promise<void> | undefined;
  /** What an end-of-generation token is replaced with under `ignoreEndOfGeneration`. */
  private readonly filler: Token;

  constructor(
    private readonly model: LlamaModel,
    private readonly stops: StopTriggers,
    private readonly options: GenerationLoopOptions = {},
    private readonly thought?: ThoughtMarkers,
  ) {
    this.filler = model.tokens.nl ?? model.tokenize("\n", false)[0]!;
  }

  /** Evaluate `input` and generate the reply, one barrier step per token. */
  async run(slot: Slot, input: Token[], params: GenerateParams): Promise<LoopResult> {
    const { model } = this;
    const stream = new TokenStream((tokens, previous) => model.detokenize(tokens, false, previous), this.stops.texts, this.thought);
    const script = this.options.scriptedReply?.(params.conversationKey) ?? [];
    let thoughtEndedAt = 0;
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
        if (stream.tokens.length < script.length) {
          token = script[stream.tokens.length]!;
          replacement = token;
        }
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
        if (thoughtEndedAt === 0 && this.thought && stream.thoughtTokens > 0 && stream.phase === "answer") thoughtEndedAt = now();
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
    const thoughtTokens = stream.thoughtTokens;
    return {
      text: cutText === undefined ? full : full.slice(0, cutText),
      generatedTokens: stream.tokens.length,
      stopReason,
      evaluationStartedAt,
      firstTokenAt,
      endedAt,
      thoughtTokens,
      thoughtMs: thoughtTokens === 0 ? 0 : (thoughtEndedAt || endedAt) - firstTokenAt,
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
