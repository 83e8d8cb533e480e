/**
 * The worker's cleanup of replies that would otherwise stay "Thinking…" with a live Stop button:
 *
 * - `failForGood`: a job failed every attempt — its message's placeholder says so, the message
 *   leaves the inbox (nothing remembered) and the conversation moves on.
 * - `sweepOpen`: the open replies (placeholders without a final answer, src/queue/OpenReplies.ts)
 *   whose request left the line without a final edit landing — the failure note could not be
 *   shown, the request expired before its turn, a crash between two steps — are finished with an
 *   explanation (every message of the reply, final: the Stop buttons go). One whose message is
 *   gone is just closed. Replies still in their inbox (waiting, generating, delivering) are alive
 *   and left alone.
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { ReplyGoneError } from "../src/errors.ts";
import type { Keys } from "../src/keys.ts";
import type { Logger } from "../src/logger.ts";
import { ConversationInbox } from "../src/queue/ConversationInbox.ts";
import { jobOptionsFor } from "../src/queue/Ingestor.ts";
import { OpenReplies, type OpenReply } from "../src/queue/OpenReplies.ts";
import type { Platform, ReplySink, ReplyTarget } from "../src/types.ts";

/** What the user sees when their reply could not be generated. */
export const FAILURE_NOTE = "Sorry — something went wrong while answering. Please try again.";
/** What an open reply whose request disappeared (expired, lost) says. */
export const UNANSWERED_NOTE = "Sorry — I couldn't answer this message. Please send it again.";
/** An open reply is looked at once it is this old (ms); younger ones are surely in flight. */
export const OPEN_STALE_MS = 60_000;
/** An open reply that could not be finished for this long is given up (ms). */
const OPEN_GIVE_UP_MS = 24 * 3600_000;

export interface ReplySweeperDeps {
  redis: Redis;
  keys: Keys;
  queue: Queue;
  sinks: Partial<Record<Platform, ReplySink>>;
  logger: Logger;
  memoryTtlSeconds: number;
}

export class ReplySweeper {
  private readonly inbox: ConversationInbox;
  readonly open: OpenReplies;

  constructor(private readonly deps: ReplySweeperDeps) {
    this.inbox = new ConversationInbox(deps.redis, deps.keys);
    this.open = new OpenReplies(deps.redis, deps.keys);
  }

  /** Re-add a job (on the shared queue) for every conversation whose inbox has messages; returns how many. */
  async sweepInboxes(): Promise<number> {
    let added = 0;
    for (const conv of await this.inbox.conversations()) {
      if ((await this.inbox.pending(conv)) === 0) {
        await this.inbox.releaseIfEmpty(conv);
        continue;
      }
      await this.deps.queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
      added++;
    }
    return added;
  }

  /**
   * A job that failed every attempt: tell the user in the placeholder of the message at the head
   * of the inbox, take that message out so the conversation is not blocked, and go on.
   */
  async failForGood(conv: string): Promise<void> {
    const { queue, logger } = this.deps;
    try {
      const head = await this.inbox.head(conv);
      if (!head || head.reserved) return;
      const { requestId, request } = head;
      let shown = false;
      if (request) shown = await this.explain(requestId, request.reply.platform, [request.reply], FAILURE_NOTE);
      // Unfenced (the job is over) and with no epoch: nothing is remembered, the message leaves the inbox.
      await this.inbox.commit({
        conversationKey: conv,
        requestId,
        epochSeen: "",
        lock: undefined,
        turns: [],
        dropOldest: 0,
        replaceLastAssistant: false,
        memoryTtlSeconds: this.deps.memoryTtlSeconds,
        state: "failed",
      });
      // Shown: closed. Not shown: the open-replies sweep tries again later.
      if (shown) await this.open.close(requestId);
      if ((await this.inbox.pending(conv)) > 0) await queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
    } catch (err) {
      logger.error({ err, conversation: conv }, "could not report a failed job to the user");
    }
  }

  /** Finish or explain the open replies older than `staleMs` whose request left the line unanswered. Returns how many. */
  async sweepOpen(staleMs = OPEN_STALE_MS, now = Date.now()): Promise<number> {
    let finished = 0;
    for (const open of await this.open.since(now - staleMs)) {
      try {
        if (await this.finishOrphan(open, now)) finished++;
      } catch (err) {
        this.deps.logger.warn({ err, requestId: open.requestId }, "could not finish an unanswered reply; trying again later");
      }
    }
    return finished;
  }

  private async finishOrphan(open: OpenReply, now: number): Promise<boolean> {
    const { requestId, conversationKey } = open;
    const [rank, state, record] = await Promise.all([
      this.inbox.rank(conversationKey, requestId),
      this.inbox.replyState(requestId),
      this.inbox.readReply(requestId),
    ]);
    if (rank !== undefined) return false; // still in its line: waiting, generating or delivering
    if (state === "done") {
      await this.open.close(requestId); // answered; only the close was missed
      return false;
    }
    const note = state === "failed" ? FAILURE_NOTE : UNANSWERED_NOTE;
    const shown = await this.explain(requestId, open.reply.platform, record.messages ?? [open.reply], note);
    if (shown || now - open.since > OPEN_GIVE_UP_MS) await this.open.close(requestId);
    if (shown)
      this.deps.logger.warn({ requestId, conversation: conversationKey, state: state ?? "expired" }, "finished an unanswered reply");
    return shown;
  }

  /** Show `note` as the final text of every message of the reply (their buttons go). True when it landed (or the message is gone). */
  private async explain(requestId: string, platform: Platform, messages: ReplyTarget[], note: string): Promise<boolean> {
    const sink = this.deps.sinks[platform];
    if (!sink) return false;
    try {
      for (let i = 0; i < messages.length; i++) {
        const last = i === messages.length - 1;
        await sink.acquireBudget?.(messages[i]!);
        await sink.edit(messages[i]!, last ? "" : "…", last ? { final: true, last, note } : { final: true, last });
      }
      return true;
    } catch (err) {
      if (err instanceof ReplyGoneError) return true;
      this.deps.logger.warn({ err, requestId }, "could not show why a reply was not answered");
      return false;
    }
  }
}
