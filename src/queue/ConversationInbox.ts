/**
 * The inbox protocol, in one place. Each conversation has an inbox of waiting messages in arrival
 * order; adapters append to it (or reserve a place, post the placeholder, then attach it), one
 * worker at a time answers its head and commits the answer, which takes the message out. Around
 * it: the stored requests, the reply state a surface can read (`reserved` → `queued` →
 * `generating` → `done` / `failed` / `refused`, the placeholder messages, the decided answer, the place in
 * line shown), the stop and gone flags, the open replies (placeholders without a final answer yet)
 * and the sweeper's list of conversations with an inbox.
 *
 * This class is the only writer of those keys. The steps that must be atomic are Lua scripts
 * (inboxScripts.ts, `lua/`).
 *
 * Fencing: a worker's writes that must not land once another worker owns the conversation
 * (decide, commit) carry the BullMQ job lock (`JobLock`); the scripts compare the lock's value
 * with the worker's token and, when the lock carries one, the conversation's lease
 * (ConversationLease.ts, the one other writer of these scripts' keys) with the worker's value.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { ChatRequest, ConversationKey, ReplyTarget } from "../types.ts";
import { defineInboxCommands, type InboxRedis } from "./inboxScripts.ts";
import type {
  AppendLimits,
  AppendOutcome,
  CommitOutcome,
  CommitParams,
  DecidedAnswer,
  InboxDepth,
  InboxHead,
  JobLock,
  ReplyRecord,
  ReservedRequest,
  StartOutcome,
} from "./inboxTypes.ts";

export { defineInboxCommands, INBOX_SCRIPTS } from "./inboxScripts.ts";
export type * from "./inboxTypes.ts";

/** Stored turns beyond this many are dropped whatever their size (a backstop for Redis memory). */
export const MAX_STORED_TURNS = 400;

/** The platform of a conversation key (its first part: `discord:…`, `slack:…`, `local:…`). */
const platformOf = (conv: ConversationKey): string => conv.slice(0, Math.max(0, conv.indexOf(":"))) || conv;

export class ConversationInbox {
  private readonly redis: InboxRedis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.redis = defineInboxCommands(redis);
  }

  // --- producers --------------------------------------------------------------------------------

  /** Append a complete message to its conversation's inbox (dedupe, rate limit, cap) and mark it queued. */
  async append(request: ChatRequest, limits: AppendLimits): Promise<AppendOutcome> {
    const { requestId, conversationKey, author, receivedAt } = request;
    return this.appendScript({ requestId, conversationKey, authorId: author.id, receivedAt }, JSON.stringify(request), limits, 0);
  }

  /**
   * Reserve a message's place in its inbox before its placeholder is posted (same checks as
   * `append`). The entry blocks its conversation until `attach`, `release`, or `reservationMs`
   * passes (then a worker drops it). `ahead` is its place in line, fixed now.
   */
  async reserve(request: ReservedRequest, limits: AppendLimits, reservationMs: number): Promise<AppendOutcome> {
    return this.appendScript(request, JSON.stringify(request), limits, Math.max(1, reservationMs));
  }

  private async appendScript(
    r: Pick<ReservedRequest, "requestId" | "conversationKey" | "authorId" | "receivedAt">,
    json: string,
    limits: AppendLimits,
    reservationMs: number,
  ): Promise<AppendOutcome> {
    const k = this.keys;
    const [seq, n] = await this.redis.inboxAppend(
      k.dedupe(r.requestId),
      k.inbox(r.conversationKey),
      k.request(r.requestId),
      k.seq,
      k.inboxes,
      k.rate(`${platformOf(r.conversationKey)}:${r.authorId}`, Math.floor(r.receivedAt / 60_000)),
      k.reply(r.requestId),
      k.reserved(r.requestId),
      r.requestId,
      json,
      limits.dedupeTtlSeconds,
      limits.requestTtlSeconds,
      limits.maxPendingPerConversation,
      r.conversationKey,
      limits.userMessagesPerMinute,
      reservationMs,
    );
    if (seq === -1) return { kind: "duplicate" };
    if (seq === -2) return { kind: "full", waiting: n };
    if (seq === -3) return { kind: "rateLimited", sent: n };
    return { kind: "queued", seq, ahead: n };
  }

  /**
   * Give a reserved entry its reply target (the posted placeholder, showing `place`): it becomes a
   * queued message and an open reply. False when the entry is gone (its reservation expired).
   */
  async attach(request: ChatRequest, place: number, requestTtlSeconds: number): Promise<boolean> {
    const k = this.keys;
    const open = JSON.stringify({ conversationKey: request.conversationKey, reply: request.reply });
    return (
      (await this.redis.inboxAttach(
        k.inbox(request.conversationKey),
        k.request(request.requestId),
        k.reply(request.requestId),
        k.reserved(request.requestId),
        k.openReplies,
        k.openReplyTargets,
        request.requestId,
        JSON.stringify(request),
        requestTtlSeconds,
        place,
        Date.now(),
        open,
      )) === 1
    );
  }

  /**
   * Take a reserved entry out of its inbox (its placeholder could not be posted; or, with
   * `expiredOnly`, its reservation ran out). Attached entries are never touched. True when released.
   */
  async release(conv: ConversationKey, requestId: string, expiredOnly = false): Promise<boolean> {
    const k = this.keys;
    const mode = expiredOnly ? "expired" : "any";
    const res = await this.redis.inboxRelease(
      k.inbox(conv),
      k.request(requestId),
      k.reply(requestId),
      k.reserved(requestId),
      k.dedupe(requestId),
      requestId,
      mode,
    );
    return res === 1;
  }

  /** Stop a message that still waits: out of the line before any worker starts it. False when it is not waiting. */
  async withdrawWaiting(conv: ConversationKey, requestId: string): Promise<boolean> {
    const k = this.keys;
    const res = await this.redis.inboxWithdraw(
      k.inbox(conv),
      k.reply(requestId),
      k.stopped(requestId),
      k.openReplies,
      k.openReplyTargets,
      requestId,
    );
    return res === 1;
  }

  /** The reply's message was deleted on the platform: stop it (as a Stop would) and mark it gone. */
  async markGone(requestId: string): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.gone(requestId), "1", "EX", 3600)
      .set(this.keys.stopped(requestId), "1", "EX", 3600)
      .publish(this.keys.stopChannel, requestId)
      .exec();
  }

  /** Ask the worker generating `requestId` to stop (the flag is read at start; the message stops it mid-way). */
  async requestStop(requestId: string): Promise<void> {
    await this.redis.multi().set(this.keys.stopped(requestId), "1", "EX", 3600).publish(this.keys.stopChannel, requestId).exec();
  }

  // --- reading the line -------------------------------------------------------------------------

  /** The oldest message waiting in `conv`, if any. */
  async head(conv: ConversationKey): Promise<InboxHead | undefined> {
    const [requestId] = await this.redis.zrange(this.keys.inbox(conv), 0, 0);
    if (!requestId) return undefined;
    const raw = await this.redis.get(this.keys.request(requestId));
    const request = raw ? (JSON.parse(raw) as ChatRequest) : undefined;
    return request && !request.reply ? { requestId, request: undefined, reserved: true } : { requestId, request };
  }

  /** A request's place in its conversation's line (0: next), or undefined when it is not waiting there. */
  async rank(conv: ConversationKey, requestId: string): Promise<number | undefined> {
    return (await this.redis.zrank(this.keys.inbox(conv), requestId)) ?? undefined;
  }

  /** How many messages wait in `conv`. */
  async pending(conv: ConversationKey): Promise<number> {
    return this.redis.zcard(this.keys.inbox(conv));
  }

  /** The first `limit` messages waiting in `conv` with their place in line (0: next); expired and reserved ones are left out. */
  async waiting(conv: ConversationKey, limit = 20): Promise<Array<{ place: number; request: ChatRequest }>> {
    const ids = await this.redis.zrange(this.keys.inbox(conv), 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.keys.request(id)));
    return raws.flatMap((raw, place) => {
      const request = raw ? (JSON.parse(raw) as ChatRequest) : undefined;
      return request?.reply ? [{ place, request }] : [];
    });
  }

  /** Conversations on the sweeper's worklist (their inbox may be non-empty). */
  async conversations(): Promise<ConversationKey[]> {
    return this.redis.smembers(this.keys.inboxes);
  }

  /** How many messages wait in each conversation on the worklist (one pipelined round trip). */
  async depths(): Promise<InboxDepth[]> {
    const convs = await this.conversations();
    if (convs.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const conv of convs) pipeline.zcard(this.keys.inbox(conv));
    const res = (await pipeline.exec()) ?? [];
    return convs.map((conversationKey, i) => {
      const [err, n] = res[i] ?? [null, 0];
      if (err) throw err;
      return { conversationKey, depth: Number(n) };
    });
  }

  /** Take `conv` off the sweeper's worklist if its inbox is empty; true when it was taken off. */
  async releaseIfEmpty(conv: ConversationKey): Promise<boolean> {
    return (await this.redis.inboxReleaseEmpty(this.keys.inbox(conv), this.keys.inboxes, conv)) === 1;
  }

  /** Drop a message whose request expired before its turn (nothing to answer). */
  async dropExpired(conv: ConversationKey, requestId: string): Promise<void> {
    await this.redis.zrem(this.keys.inbox(conv), requestId);
  }

  // --- answering --------------------------------------------------------------------------------

  async readReply(requestId: string): Promise<ReplyRecord> {
    const h = await this.redis.hgetall(this.keys.reply(requestId));
    const record: ReplyRecord = {
      messages: h.messages ? (JSON.parse(h.messages) as ReplyTarget[]) : undefined,
      decided: h.decided ? (JSON.parse(h.decided) as DecidedAnswer) : undefined,
    };
    if (h.place) record.place = Number(h.place);
    return record;
  }

  /** The reply state (`reserved`, `queued`, `generating`, `done`, `failed`), or undefined when unknown. */
  async replyState(requestId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.reply(requestId), "state")) ?? undefined;
  }

  /** Remember the place in line a waiting reply's placeholder is given. */
  async notePlace(requestId: string, place: number): Promise<void> {
    await this.redis.hset(this.keys.reply(requestId), "place", place);
  }

  /** Whether the user asked to stop this reply before a worker picked it up. */
  async isStopped(requestId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.stopped(requestId))) === 1;
  }

  /** Whether the reply's message was deleted on the platform (nothing may be posted for it). */
  async isGone(requestId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.gone(requestId))) === 1;
  }

  /** Take the head of an inbox for answering (marks it generating); see StartOutcome. */
  async start(conv: ConversationKey, requestId: string, workerId: string): Promise<StartOutcome> {
    const res = await this.redis.inboxStart(this.keys.inbox(conv), this.keys.reply(requestId), requestId, workerId);
    return res === 1 ? "started" : res === -1 ? "reserved" : "gone";
  }

  /** Remember the platform messages holding the reply (a retry edits the same ones). */
  async saveMessages(requestId: string, messages: readonly ReplyTarget[]): Promise<void> {
    await this.redis.hset(this.keys.reply(requestId), "messages", JSON.stringify(messages));
  }

  /** Whether the caller still holds the job lock (and its lease). */
  async holdsLock(lock: JobLock): Promise<boolean> {
    const [held, lease] = await Promise.all([
      this.redis.get(this.keys.jobLock(lock.jobId, lock.queue)),
      lock.lease ? this.redis.get(lock.lease.key) : undefined,
    ]);
    return held === lock.token && (!lock.lease || lease === lock.lease.value);
  }

  /** Record the decided answer while the caller holds the job lock; false when it lost it. */
  async decide(requestId: string, lock: JobLock | undefined, answer: DecidedAnswer): Promise<boolean> {
    const [lockKey, token, leaseKey, lease] = this.fence(lock, requestId);
    return (await this.redis.inboxDecide(lockKey, this.keys.reply(requestId), leaseKey, JSON.stringify(answer), token, lease)) === 1;
  }

  /** Commit an answered message: memory turns, out of the inbox, reply state (see lua/commit.lua). */
  async commit(p: CommitParams): Promise<CommitOutcome> {
    const k = this.keys;
    const [lockKey, token, leaseKey, lease] = this.fence(p.lock, p.requestId);
    return this.redis.inboxCommit(
      k.inbox(p.conversationKey),
      k.turns(p.conversationKey),
      k.epoch(p.conversationKey),
      k.reply(p.requestId),
      lockKey,
      leaseKey,
      p.requestId,
      p.epochSeen,
      token,
      p.memoryTtlSeconds,
      p.dropOldest,
      p.replaceLastAssistant ? "1" : "0",
      MAX_STORED_TURNS,
      p.state ?? "done",
      p.turns.length,
      lease,
      ...p.turns.map((t) => JSON.stringify(t)),
    );
  }

  /** The lock and lease a script fences on; unfenced, the keys are stand-ins the script does not read. */
  private fence(lock: JobLock | undefined, requestId: string): [lockKey: string, token: string, leaseKey: string, lease: string] {
    const none = this.keys.reply(requestId);
    if (!lock?.token) return [none, "", none, ""];
    return [this.keys.jobLock(lock.jobId, lock.queue), lock.token, lock.lease?.key ?? none, lock.lease?.value ?? ""];
  }
}
