/**
 * Every core Redis key, built here and nowhere else: the inbox protocol, conversation memory,
 * per-place settings, reply state, the stop flag, worker stats, and the one BullMQ-internal key
 * the worker fences on (a job's lock) — and, at the end, the platform adapters' keys
 * (`<prefix>:discord:…`, `<prefix>:slack:…`). Everything lives under `prefix` (REDIS_PREFIX).
 */
import type { ConversationKey } from "./types.ts";

export const QUEUE_NAME = "chat";

/**
 * One worker process's own chat queue: follow-ups of the conversations it holds warm are
 * routed there while it is alive and has room (src/queue/WorkerRoutes.ts); everything else goes to
 * the shared QUEUE_NAME, which every worker takes from.
 */
export function workerQueueName(workerId: string): string {
  return `${QUEUE_NAME}-worker-${workerId}`;
}
/** The BullMQ queue of /imagine jobs ("conversation X has an image to make"). */
export const IMAGE_QUEUE_NAME = "images";

export class Keys {
  constructor(readonly prefix: string) {}

  // --- BullMQ -----------------------------------------------------------------------------------
  /** BullMQ's own prefix (its keys live under `<prefix>:bull:<queue>:…`). */
  get bull(): string {
    return `${this.prefix}:bull`;
  }
  /** BullMQ's lock of an active job (its value is the token of the worker processing it). */
  jobLock(jobId: string, queue: string = QUEUE_NAME): string {
    return `${this.bull}:${queue}:${jobId}:lock`;
  }

  // --- inbox protocol (written only by src/queue/ConversationInbox.ts) ---------------------------
  /** A platform message id already received (dedupe). */
  dedupe(requestId: string): string {
    return `${this.prefix}:dedupe:${requestId}`;
  }
  /** A conversation's waiting messages: request ids scored by arrival sequence. */
  inbox(conv: ConversationKey): string {
    return `${this.prefix}:inbox:${conv}`;
  }
  /** Set of conversations whose inbox may be non-empty (the sweeper's worklist). */
  get inboxes(): string {
    return `${this.prefix}:inboxes`;
  }
  /** The arrival sequence counter (orders every inbox). */
  get seq(): string {
    return `${this.prefix}:seq`;
  }
  /** A waiting message (ChatRequest JSON). */
  request(requestId: string): string {
    return `${this.prefix}:req:${requestId}`;
  }
  /** Reply state hash: `state` (queued, generating, done, failed, refused), `worker`, `messages`, `decided`. */
  reply(requestId: string): string {
    return `${this.prefix}:reply:${requestId}`;
  }
  /** Messages a user sent in one minute (per-user rate limit). */
  rate(userKey: string, minute: number): string {
    return `${this.prefix}:rate:${userKey}:${minute}`;
  }
  /** Set when the user asked to stop a reply (read when generation starts). */
  stopped(requestId: string): string {
    return `${this.prefix}:stopped:${requestId}`;
  }
  /** Pub/sub channel telling workers to stop a reply now. */
  get stopChannel(): string {
    return `${this.prefix}:stop`;
  }
  /** Present while a reserved inbox entry waits for its placeholder (expires: the entry is dropped). */
  reserved(requestId: string): string {
    return `${this.prefix}:reserved:${requestId}`;
  }
  /** Set when a reply's message was deleted on the platform: the reply is stopped and nothing more is posted. */
  gone(requestId: string): string {
    return `${this.prefix}:gone:${requestId}`;
  }
  /**
   * The conversation's lease: which job attempt answers it now (`<its job lock key>|<token>`).
   * Live while that job lock still holds that token, so a dead holder frees it with its lock.
   */
  lease(conv: ConversationKey): string {
    return `${this.prefix}:lease:${conv}`;
  }
  /** Replies whose placeholder shows no final answer yet: request ids by the time they were attached (ms). */
  get openReplies(): string {
    return `${this.prefix}:open`;
  }
  /** Where each open reply lives: request id → JSON { conversationKey, reply }. */
  get openReplyTargets(): string {
    return `${this.prefix}:open:targets`;
  }

  // --- conversation memory ----------------------------------------------------------------------
  turns(conv: ConversationKey): string {
    return `${this.prefix}:turns:${conv}`;
  }
  /** Bumped by reset, so a reply that was in flight during a reset is not written into the fresh memory. */
  epoch(conv: ConversationKey): string {
    return `${this.prefix}:epoch:${conv}`;
  }

  // --- per-place settings (written only by src/settings/SettingsStore.ts) -----------------------
  /** One scope's settings (hash: setting key → canonical value); `scope` is a scope id (`discord:<guild>[:<channel>[:<thread>]]`). */
  settings(scope: string): string {
    return `${this.prefix}:settings:${scope}`;
  }
  /** Scope ids that have settings (status lists them). */
  get settingsScopes(): string {
    return `${this.prefix}:settings-scopes`;
  }
  /** The settings audit log: newest first, bounded (who changed what, when). */
  get settingsAudit(): string {
    return `${this.prefix}:settings-audit`;
  }

  // --- platform rate limits shared by every process (src/stream/SharedRateLimits.ts) ------------
  /** What is known of one rate-limit bucket (`platform:route:major`): remaining, reset, blocked until. */
  rateBucket(bucket: string): string {
    return `${this.prefix}:ratelimit:${bucket}`;
  }

  // --- local surfaces ---------------------------------------------------------------------------
  /** Local surfaces read a reply's updates from this stream. */
  replyStream(messageId: string): string {
    return `${this.prefix}:stream:${messageId}`;
  }
  /**
   * A terminal conversation's answers not shown yet (hash: requestId → ChatRequest JSON): set when
   * a message is queued, cleared once its answer was printed, so a chat reopened after Ctrl-C
   * shows the answers that finished (or still run) while it was closed.
   */
  localUnseen(conv: ConversationKey): string {
    return `${this.prefix}:unseen:${conv}`;
  }

  // --- conversation affinity (src/queue/WorkerRoutes.ts) -----------------------------------------
  /** The worker that last answered a conversation (its tokens may still be warm there). */
  affinity(conv: ConversationKey): string {
    return `${this.prefix}:affinity:${conv}`;
  }
  /** A worker takes routed follow-ups: its free sequences (expires unless refreshed: the worker is gone). */
  route(workerId: string): string {
    return `${this.prefix}:route:${workerId}`;
  }
  /** Set of worker ids that announced a route (the queue of one whose route expired is emptied into the shared queue). */
  get routes(): string {
    return `${this.prefix}:routes`;
  }
  /** Held by the worker emptying a dead worker's queue. */
  rescue(workerId: string): string {
    return `${this.prefix}:rescue:${workerId}`;
  }

  // --- worker stats (src/ops/workerStats.ts) ----------------------------------------------------
  /** Per-minute throughput hash (epoch minutes). */
  statsMinute(minute: number): string {
    return `${this.prefix}:stats:${minute}`;
  }
  /** Live workers: sorted set of worker ids by last heartbeat (ms). */
  get workers(): string {
    return `${this.prefix}:workers`;
  }
  /** One worker's heartbeat hash. */
  worker(id: string): string {
    return `${this.prefix}:worker:${id}`;
  }
}

/**
 * The image lane (/imagine): the same inbox protocol as text with inboxes, a worklist, job locks
 * and per-user rate counters of its own, so images of one conversation are answered in order
 * without waiting behind its text replies (nor text behind images). Everything else — dedupe,
 * stored requests, reply state, the stop flag and channel, memory and its epoch — is shared, so
 * ConversationInbox, Intake and Ingestor work unchanged when given these keys.
 */
export class ImageKeys extends Keys {
  override jobLock(jobId: string): string {
    return `${this.bull}:${IMAGE_QUEUE_NAME}:${jobId}:lock`;
  }
  override inbox(conv: ConversationKey): string {
    return `${this.prefix}:imginbox:${conv}`;
  }
  override get inboxes(): string {
    return `${this.prefix}:imginboxes`;
  }
  override rate(userKey: string, minute: number): string {
    return `${this.prefix}:imgrate:${userKey}:${minute}`;
  }
  /** A decided image (its bytes), kept until committed so a retry after a crash delivers the same picture. */
  imageResult(requestId: string): string {
    return `${this.prefix}:imgresult:${requestId}`;
  }
}

// ============================================================================================
// Platform adapters' keys (Discord, Slack), under `<prefix>:discord:…` and `<prefix>:slack:…`.
// ============================================================================================

/** Keys of the Discord adapter. */
export class DiscordKeys {
  private readonly base: string;
  constructor(keys: Keys) {
    this.base = `${keys.prefix}:discord`;
  }
  /** A message / interaction already taken (replay dedupe). */
  seen(id: string): string {
    return `${this.base}:seen:${id}`;
  }
  /** A thread the bot opened for a question: the conversation continues there without mentions. */
  botThread(threadId: string): string {
    return `${this.base}:thread:${threadId}`;
  }
  /** The request whose answer is the newest of a conversation (only that one can be regenerated). */
  latest(conv: ConversationKey): string {
    return `${this.base}:latest:${conv}`;
  }
  /** The request a bot message (placeholder or follow-up) belongs to: its deletion stops that reply. */
  replyMessage(messageId: string): string {
    return `${this.base}:reply:${messageId}`;
  }
  /** A bot thread was told recently that the bot cannot read messages there (one hint per window). */
  threadHint(threadId: string): string {
    return `${this.base}:hint:${threadId}`;
  }
  /** A person was told recently in a channel to keep the ping on when replying to the bot (one hint per window). */
  pingHint(channelId: string, userId: string): string {
    return `${this.base}:pinghint:${channelId}:${userId}`;
  }
}

/** Keys of the Slack adapter and sink. */
export class SlackKeys {
  private readonly base: string;
  constructor(keys: Keys) {
    this.base = `${keys.prefix}:slack`;
  }
  /** Claimed by the first delivery of a message or command (Slack sends mentions twice and retries). */
  claim(requestId: string): string {
    return `${this.base}:claim:${requestId}`;
  }
  /** Present while a thread is one the bot started (its plain follow-ups continue the conversation). */
  botThread(teamId: string, channelId: string, threadTs: string): string {
    return `${this.base}:thread:${teamId}:${channelId}:${threadTs}`;
  }
  /** The request a bot message belongs to (Stop button → request). */
  messageRequest(teamId: string, channelId: string, ts: string): string {
    return `${this.base}:msg:${teamId}:${channelId}:${ts}`;
  }
  /** The thread of a user's latest conversation with the bot in a channel (what `/reset` clears). */
  lastThread(teamId: string, channelId: string, userId: string): string {
    return `${this.base}:last:${teamId}:${channelId}:${userId}`;
  }
  /** The shared edit budget of a workspace: its next free slot (ms since the epoch). */
  editBudget(teamId: string): string {
    return `${this.base}:budget:${teamId}`;
  }
  /** The workspace's sends in the current window (sorted set), for the hard cap. */
  editBudgetLog(teamId: string): string {
    return `${this.editBudget(teamId)}:log`;
  }
  /** Set while the workspace is blocked after a 429 (nobody edits until it expires). */
  editBudgetBlocked(teamId: string): string {
    return `${this.editBudget(teamId)}:blocked`;
  }
  /** Set while a 429 has lowered a budget's calls per window (the adaptive stream budget); expires back to the configured rate. */
  budgetLimit(budgetKey: string): string {
    return `${budgetKey}:limit`;
  }
  /** The streaming path's budget of a workspace (`chat.appendStream`): its next free slot; `:log`, `:blocked`, `:limit` below. */
  streamBudget(teamId: string): string {
    return `${this.base}:sbudget:${teamId}`;
  }
  streamBudgetLog(teamId: string): string {
    return `${this.streamBudget(teamId)}:log`;
  }
  streamBudgetBlocked(teamId: string): string {
    return `${this.streamBudget(teamId)}:blocked`;
  }
  /** A reply message's native stream (JSON: the streamed message's ts, the attempt that owns it, its state, the text sent). */
  stream(teamId: string, channelId: string, ts: string): string {
    return `${this.base}:stream:${teamId}:${channelId}:${ts}`;
  }
  /** Set while a workspace refused a feature (`streaming`, `status`, `assistant`): not tried again until it expires. */
  featureOff(teamId: string, feature: string): string {
    return `${this.base}:off:${feature}:${teamId}`;
  }
  /** Set once an assistant thread got its title (from its first question). */
  assistantTitled(teamId: string, channelId: string, threadTs: string): string {
    return `${this.base}:titled:${teamId}:${channelId}:${threadTs}`;
  }
}
