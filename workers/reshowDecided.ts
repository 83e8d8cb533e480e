/**
 * After an attempt at a reply lost its job lock: an edit of its that passed the lock check just
 * before the lock was lost can still land afterwards (it waited for the platform's rate budget, or
 * for Redis to come back), after the final edit of the worker that took the reply over — the
 * reply would keep this attempt's partial text, with its Stop button, for good.
 *
 * So once this attempt's own edits have all settled, it looks for a decided answer: when there is
 * one, the new owner shows (or has shown) it, and this attempt shows the same final text again, so
 * that the last edit to land is a final one. When there is none yet, the new owner decides later,
 * and its final edit necessarily comes after this attempt's edits.
 */
import type { Logger } from "../src/logger.ts";
import type { ConversationInbox } from "../src/queue/ConversationInbox.ts";
import { ReplyStreamer } from "../src/stream/ReplyStreamer.ts";
import type { ChatRequest, ReplySink } from "../src/types.ts";

export interface ReshowDeps {
  inbox: Pick<ConversationInbox, "readReply" | "isGone">;
  sink: ReplySink;
  log: Logger;
  intervalMs: number;
}

/** Returns whether the decided answer was shown again. Never throws. */
export async function reshowDecided(deps: ReshowDeps, request: ChatRequest, streamer: ReplyStreamer): Promise<boolean> {
  const { log } = deps;
  try {
    await streamer.settle();
    if (streamer.edits === 0 || streamer.replyGone) return false;
    const [record, gone] = await Promise.all([deps.inbox.readReply(request.requestId), deps.inbox.isGone(request.requestId)]);
    const decided = record.decided;
    if (!decided || gone) return false;
    // Unguarded: this worker no longer owns the reply, but the text is the owner's own final text.
    const again = new ReplyStreamer(deps.sink, record.messages ?? [request.reply], { intervalMs: deps.intervalMs, logger: log });
    await again.finish(decided.text, decided.note);
    log.warn("lock lost after edits that may have landed over the new owner's final text; the decided answer is shown again");
    return true;
  } catch (err) {
    log.warn({ err }, "could not show the decided answer again after losing the lock");
    return false;
  }
}
