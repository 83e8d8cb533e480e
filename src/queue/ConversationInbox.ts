/**
 * The inbox protocol, in one place. Each conversation has an inbox of waiting messages in arrival
 * order; adapters append to it, one worker at a time answers its head and commits the answer,
 * which takes the message out. Around it: the stored requests, the reply state a surface can
 * read (`queued` → `generating` → `done` / `failed` / `refused`, the placeholder messages, the decided
 * answer), the stop flag, and the sweeper's list of conversations with an inbox.
 *
 * This class is the only writer of those keys. The steps that must be atomic are Lua scripts,
 * one file each under `lua/` (a header there lists KEYS, ARGV and returns), read once when this
 * module loads and registered once per ioredis connection with `defineCommand` (ioredis sends
 * EVALSHA and reloads a script Redis has forgotten, e.g. after a restart).
 *
 * Fencing: a worker's writes that must not land once another worker owns the conversation
 * (decide, commit) carry the BullMQ job lock (`JobLock`); the scripts compare the lock's value
 * with the worker's token.
 */
import fs from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { ChatRequest, ChatTurn, ConversationKey, ReplyTarget } from "../types.ts";

/** Stored turns beyond this many are dropped whatever their size (a backstop for Redis memory). */
export const MAX_STORED_TURNS = 400;

/** The scripts, as ioredis commands: name → file under lua/ and number of keys. */
export const INBOX_SCRIPTS = {
  inboxAppend: { file: "append.lua", keys: 7 },
  inboxCommit: { file: "commit.lua", keys: 5 },
  inboxDecide: { file: "decide.lua", keys: 2 },
  inboxReleaseEmpty: { file: "releaseEmpty.lua", keys: 2 },
} as const;

type ScriptName = keyof typeof INBOX_SCRIPTS;
type Arg = string | number;

/** A connection with the scripts defined on it. */
type InboxRedis = Redis & {
  inboxAppend(...args: Arg[]): Promise<[number, number]>;
  inboxCommit(...args: Arg[]): Promise<CommitOutcome>;
  inboxDecide(...args: Arg[]): Promise<number>;
  inboxReleaseEmpty(...args: Arg[]): Promise<number>;
};

const LUA = Object.fromEntries(
  Object.entries(INBOX_SCRIPTS).map(([name, s]) => [name, fs.readFileSync(path.join(import.meta.dirname, "lua", s.file), "utf8")]),
) as Record<ScriptName, string>;

const defined = new WeakSet<Redis>();

/** Define the inbox scripts on `redis` (once per connection; later calls do nothing). */
export function defineInboxCommands(redis: Redis): InboxRedis {
  if (!defined.has(redis)) {
    for (const [name, s] of Object.entries(INBOX_SCRIPTS))
      redis.defineCommand(name, { numberOfKeys: s.keys, lua: LUA[name as ScriptName] });
    defined.add(redis);
  }
  return redis as InboxRedis;
}

export interface AppendLimits {
  /** How long a platform message id is remembered for dedupe. */
  dedupeTtlSeconds: number;
  /** How long a waiting request (and its reply state) is kept. */
  requestTtlSeconds: number;
  /** Most messages waiting in one conversation's inbox. */
  maxPendingPerConversation: number;
  /** Most messages one user may send per minute (0: no limit). */
  userMessagesPerMinute: number;
}

export type AppendOutcome =
  | { kind: "queued"; seq: number; ahead: number }
  | { kind: "duplicate" }
  | { kind: "full"; waiting: number }
  | { kind: "rateLimited"; sent: number };

/** The BullMQ job lock a worker holds while it answers a conversation ('' token: not fenced). */
export interface JobLock {
  jobId: string;
  token: string;
}

/**
 * An answer whose final text was decided (recorded before the final edit). A retry after a crash
 * between the final edit and the commit delivers and commits this same answer.
 */
export interface DecidedAnswer {
  text: string;
  note?: string;
  turns: ChatTurn[];
  dropOldest: number;
  replaceLastAssistant: boolean;
  epoch: string;
}

/** What a worker reads of a reply's state when it starts answering. */
export interface ReplyRecord {
  /** The platform messages holding the reply so far (absent: just the placeholder). */
  messages?: ReplyTarget[];
  decided?: DecidedAnswer;
}

export type CommitOutcome = "OK" | "ALREADY_COMMITTED" | "LOCK_LOST" | "RESET_SINCE";

export interface CommitParams {
  conversationKey: ConversationKey;
  requestId: string;
  /** The memory's epoch when it was read ('' for none: no turns are written). */
  epochSeen: string;
  /** The job lock to fence on (undefined: not fenced). */
  lock: JobLock | undefined;
  turns: ChatTurn[];
  /** Oldest stored turns to drop (they no longer fit the context). */
  dropOldest: number;
  /** Regenerate: the new assistant turn replaces the stored last one. */
  replaceLastAssistant: boolean;
  memoryTtlSeconds: number;
  /** The reply state to set (default done; refused: answered with a refusal, e.g. too many tokens). */
  state?: "done" | "failed" | "refused";
}

export interface InboxDepth {
  conversationKey: ConversationKey;
  depth: number;
}

/** The message at the head of an inbox; `request` is undefined when it expired before its turn. */
export interface InboxHead {
  requestId: string;
  request: ChatRequest | undefined;
}

export class ConversationInbox {
  private readonly redis: InboxRedis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.redis = defineInboxCommands(redis);
  }

  // --- producers --------------------------------------------------------------------------------

  /** Append a message to its conversation's inbox (dedupe, rate limit, cap) and mark it queued. */
  async append(request: ChatRequest, limits: AppendLimits): Promise<AppendOutcome> {
    const k = this.keys;
    const [seq, n] = await this.redis.inboxAppend(
      k.dedupe(request.requestId),
      k.inbox(request.conversationKey),
      k.request(request.requestId),
      k.seq,
      k.inboxes,
      k.rate(`${request.reply.platform}:${request.author.id}`, Math.floor(request.receivedAt / 60_000)),
      k.reply(request.requestId),
      request.requestId,
      JSON.stringify(request),
      limits.dedupeTtlSeconds,
      limits.requestTtlSeconds,
      limits.maxPendingPerConversation,
      request.conversationKey,
      limits.userMessagesPerMinute,
    );
    if (seq === -1) return { kind: "duplicate" };
    if (seq === -2) return { kind: "full", waiting: n };
    if (seq === -3) return { kind: "rateLimited", sent: n };
    return { kind: "queued", seq, ahead: n };
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
    return { requestId, request: raw ? (JSON.parse(raw) as ChatRequest) : undefined };
  }

  /** How many messages wait in `conv`. */
  async pending(conv: ConversationKey): Promise<number> {
    return this.redis.zcard(this.keys.inbox(conv));
  }

  /** The first `limit` messages waiting in `conv` with their place in line (0: next); expired ones are left out. */
  async waiting(conv: ConversationKey, limit = 20): Promise<Array<{ place: number; request: ChatRequest }>> {
    const ids = await this.redis.zrange(this.keys.inbox(conv), 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.keys.request(id)));
    return raws.flatMap((raw, place) => (raw ? [{ place, request: JSON.parse(raw) as ChatRequest }] : []));
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
    return {
      messages: h.messages ? (JSON.parse(h.messages) as ReplyTarget[]) : undefined,
      decided: h.decided ? (JSON.parse(h.decided) as DecidedAnswer) : undefined,
    };
  }

  /** Whether the user asked to stop this reply before a worker picked it up. */
  async isStopped(requestId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.stopped(requestId))) === 1;
  }

  async markGenerating(requestId: string, workerId: string): Promise<void> {
    await this.redis.hset(this.keys.reply(requestId), "state", "generating", "worker", workerId);
  }

  /** Remember the platform messages holding the reply (a retry edits the same ones). */
  async saveMessages(requestId: string, messages: readonly ReplyTarget[]): Promise<void> {
    await this.redis.hset(this.keys.reply(requestId), "messages", JSON.stringify(messages));
  }

  /** Whether the caller still holds the job lock. */
  async holdsLock(lock: JobLock): Promise<boolean> {
    return (await this.redis.get(this.keys.jobLock(lock.jobId))) === lock.token;
  }

  /** Record the decided answer while the caller holds the job lock; false when it lost it. */
  async decide(requestId: string, lock: JobLock | undefined, answer: DecidedAnswer): Promise<boolean> {
    const [lockKey, token] = this.fence(lock, requestId);
    return (await this.redis.inboxDecide(lockKey, this.keys.reply(requestId), JSON.stringify(answer), token)) === 1;
  }

  /** Commit an answered message: memory turns, out of the inbox, reply state (see lua/commit.lua). */
  async commit(p: CommitParams): Promise<CommitOutcome> {
    const k = this.keys;
    const [lockKey, token] = this.fence(p.lock, p.requestId);
    return this.redis.inboxCommit(
      k.inbox(p.conversationKey),
      k.turns(p.conversationKey),
      k.epoch(p.conversationKey),
      k.reply(p.requestId),
      lockKey,
      p.requestId,
      p.epochSeen,
      token,
      p.memoryTtlSeconds,
      p.dropOldest,
      p.replaceLastAssistant ? "1" : "0",
      MAX_STORED_TURNS,
      p.state ?? "done",
      p.turns.length,
      ...p.turns.map((t) => JSON.stringify(t)),
    );
  }

  /** The lock key and token a script fences on; unfenced, the key is a stand-in the script does not read. */
  private fence(lock: JobLock | undefined, requestId: string): [key: string, token: string] {
    return lock?.token ? [this.keys.jobLock(lock.jobId), lock.token] : [this.keys.reply(requestId), ""];
  }
}
