/**
 * The last step of a reply whose generation ended: the notes under it, the answer decided
 * (fenced by the job lock, so a retry after a crash re-delivers the same answer), the final text
 * delivered, the turns committed exactly once.
 */
import { LockLostError } from "../src/errors.ts";
import type { ConversationInbox } from "../src/queue/ConversationInbox.ts";
import type { ReplyStreamer } from "../src/stream/ReplyStreamer.ts";
import type { ChatRequest, ChatTurn } from "../src/types.ts";
import type { FinishContext, GenerationEvent, WorkerResult } from "./chatWorkerTypes.ts";
import { type ComposeFit, composeAnswer } from "./composeAnswer.ts";
import type { Engine } from "./engine/Engine.ts";

export interface FinishDeps {
  inbox: Pick<ConversationInbox, "decide">;
  engine: Pick<Engine, "turnTokens">;
  /** The worker's `generation` event. */
  generated: (event: GenerationEvent) => void;
}

export async function finishAnswer(
  deps: FinishDeps,
  request: ChatRequest,
  result: WorkerResult,
  fit: ComposeFit & { history: ChatTurn[] },
  epoch: string,
  ctx: FinishContext<ReplyStreamer>,
): Promise<void> {
  const { log, streamer } = ctx;
  const { answer, note } = await composeAnswer(request, result, fit, epoch, deps.engine);
  if (!(await deps.inbox.decide(request.requestId, ctx.lock, answer))) {
    log.warn("lock lost before the final edit; leaving the reply to the worker that owns it");
    return;
  }
  try {
    if (!(await ctx.deliver(result.text, note))) return;
  } catch (err) {
    if (err instanceof LockLostError) {
      log.warn("lock lost before the final edit; not committing");
      await ctx.reshow?.();
      return;
    }
    throw err;
  }
  const outcome = await ctx.commit(answer.turns, answer.dropOldest, answer.replaceLastAssistant, epoch);
  log.info(
    {
      tokens: result.generatedTokens,
      stopReason: result.stopReason,
      promptTokens: result.promptTokens,
      evaluatedInputTokens: result.evaluatedInputTokens,
      cachedPromptTokens: result.cachedPromptTokens,
      ttftMs: Math.round(result.ttftMs),
      totalMs: Math.round(result.totalMs),
      waitedMs: result.waitedMs > 0 ? Math.round(result.waitedMs) : undefined,
      edits: streamer.edits,
      commit: outcome,
    },
    "reply done",
  );
  deps.generated({ request, history: fit.history, result, commit: outcome, targets: streamer.targets });
}
