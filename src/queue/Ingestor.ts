/**
 * The adapters' side of the queue: validate a normalized message, drop duplicates, append it to
 * its conversation's inbox (arrival order; the protocol itself is ConversationInbox's) and make
 * sure a job says "this conversation has work". Platforms that post a placeholder first reserve
 * the message's place (`reserve`), post the placeholder showing that place, then `attach` it
 * (which signals the workers) — or `release` the place when the placeholder cannot be posted.
 * One BullMQ job per conversation at a time (deduplicated by conversation key), so messages of
 * one conversation are answered one by one while conversations run in parallel. A chat job goes
 * to the worker that holds the conversation warm when it can take it (WorkerRoutes).
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { INTAKE_TEXT } from "../intake/intakeMessages.ts";
import { type Keys, QUEUE_NAME } from "../keys.ts";
import { isBlankText } from "../text/normalizeUserText.ts";
import type { ChatRequest, ConversationKey } from "../types.ts";
import { type AppendLimits, type AppendOutcome, ConversationInbox, type ReservedRequest } from "./ConversationInbox.ts";
import { jobOptionsFor } from "./jobOptionsFor.ts";
import { WorkerRoutes } from "./WorkerRoutes.ts";

export interface IngestOptions {
  /** Longest message accepted, in characters (MAX_INPUT_CHARS). */
  maxInputChars: number;
  /** Most messages waiting in one conversation's inbox. */
  maxPendingPerConversation?: number;
  /** Most messages one user may send per minute (0: no limit). */
  userMessagesPerMinute?: number;
  /** How long a platform message id is remembered for dedupe. */
  dedupeTtlSeconds?: number;
  /** How long a waiting request is kept. */
  requestTtlSeconds?: number;
  /** How long a reserved place waits for its placeholder before a worker drops it (ms). */
  reservationMs?: number;
}

/** How long a reserved place waits for its placeholder by default: longer than any placeholder retry. */
export const RESERVATION_MS = 120_000;

/** Why a message was not queued; each comes with a text that is safe to show the sender. */
export type IngestRefusalCode =
  | "EMPTY_MESSAGE"
  | "MESSAGE_TOO_LONG"
  | "DUPLICATE_MESSAGE"
  | "RATE_LIMITED"
  | "QUEUE_FULL"
  | "REDIS_UNAVAILABLE"
  // /imagine only (src/intake/ImagineIntake.ts): an option out of range, no image engine set up.
  | "IMAGE_OPTION_INVALID"
  | "IMAGE_ENGINE_NOT_CONFIGURED";

export interface IngestRefusal {
  status: "refused";
  code: IngestRefusalCode;
  /** Safe to show the sender. */
  userMessage: string;
  /** For logs only (never shown): the underlying error of a REDIS_UNAVAILABLE. */
  detail?: string;
}

export interface IngestQueued {
  /**
   * "queued": in the inbox and the workers signalled. "queued-unsignalled": in the inbox, but the
   * job that wakes the workers could not be added; the workers' sweeper adds it, so the message
   * is answered all the same (it is not a refusal).
   */
  status: "queued" | "queued-unsignalled";
  /** Messages of the same conversation ahead of this one (0: it is next). */
  ahead: number;
  seq: number;
  /** For logs only: why the workers were not signalled. */
  detail?: string;
}

/** What `Ingestor.ingest` did with a message. Expected cases are outcomes, never thrown. */
export type IngestOutcome = IngestQueued | IngestRefusal;

/** A place reserved in the conversation's line: `ahead` messages before it (fixed when reserved). */
export interface IngestReserved {
  status: "reserved";
  ahead: number;
  seq: number;
}

/** What `Ingestor.reserve` did. */
export type ReserveOutcome = IngestReserved | IngestRefusal;

/** What `Ingestor.attach` did: queued (signalled or not), or the reservation was gone (it expired). */
export type AttachOutcome = IngestQueued | { status: "expired" };

const refused = (code: IngestRefusalCode, userMessage: string, detail?: string): IngestRefusal =>
  detail === undefined ? { status: "refused", code, userMessage } : { status: "refused", code, userMessage, detail };
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The refusal an append outcome that was not queued means. */
function refusalOf(res: Exclude<AppendOutcome, { kind: "queued" }>): IngestRefusal {
  if (res.kind === "duplicate") return refused("DUPLICATE_MESSAGE", INTAKE_TEXT.duplicate);
  if (res.kind === "rateLimited") return refused("RATE_LIMITED", INTAKE_TEXT.rateLimited(res.sent));
  return refused("QUEUE_FULL", INTAKE_TEXT.queueFull(res.waiting));
}

/** Ingest options from the config. Local surfaces (the operator's own terminal) have no per-user rate limit. */
export function ingestOptionsFrom(
  config: Pick<Config, "MAX_INPUT_CHARS" | "MAX_PENDING_PER_CONVERSATION" | "USER_MESSAGES_PER_MINUTE" | "MEMORY_TTL_SECONDS">,
  opts: { rateLimit: boolean },
): IngestOptions {
  return {
    maxInputChars: config.MAX_INPUT_CHARS,
    maxPendingPerConversation: config.MAX_PENDING_PER_CONVERSATION,
    userMessagesPerMinute: opts.rateLimit ? config.USER_MESSAGES_PER_MINUTE : 0,
  };
}

export { jobOptionsFor } from "./jobOptionsFor.ts";

/** The chat queue, as producers see it. */
export function createChatQueue(redis: Redis, keys: Keys): Queue {
  return new Queue(QUEUE_NAME, { connection: redis, prefix: keys.bull });
}

export class Ingestor {
  private readonly inbox: ConversationInbox;
  /** The chat queue's routing (follow-ups to the worker holding them warm); none for other queues (images). */
  private readonly routes: WorkerRoutes | undefined;

  constructor(
    redis: Redis,
    private readonly queue: Queue,
    keys: Keys,
    private readonly opts: IngestOptions,
  ) {
    this.inbox = new ConversationInbox(redis, keys);
    this.routes = queue.name === QUEUE_NAME ? new WorkerRoutes(redis, keys, queue) : undefined;
  }

  /** What must never be queued (empty, too long): the refusal, or null when the text may be queued. */
  check(text: string): IngestRefusal | null {
    // Whitespace and invisible characters only (zero-width spaces, U+3000, U+FEFF, …) count as empty.
    if (isBlankText(text)) return refused("EMPTY_MESSAGE", INTAKE_TEXT.empty);
    if (text.length > this.opts.maxInputChars)
      return refused("MESSAGE_TOO_LONG", INTAKE_TEXT.tooLong(text.length, this.opts.maxInputChars));
    return null;
  }

  private limits(): AppendLimits {
    return {
      dedupeTtlSeconds: this.opts.dedupeTtlSeconds ?? 24 * 3600,
      requestTtlSeconds: this.opts.requestTtlSeconds ?? 7 * 24 * 3600,
      maxPendingPerConversation: this.opts.maxPendingPerConversation ?? 20,
      userMessagesPerMinute: this.opts.userMessagesPerMinute ?? 0,
    };
  }

  /**
   * Queue a complete message in one step (surfaces with nothing to post first): the refusal
   * (invalid, duplicate, rate-limited, inbox full, Redis down), or its place in line. Throws only
   * on the unexpected (a bug), never for these cases.
   */
  async ingest(request: ChatRequest): Promise<IngestOutcome> {
    const invalid = this.check(request.text);
    if (invalid) return invalid;
    let res: AppendOutcome;
    try {
      res = await this.inbox.append(request, this.limits());
    } catch (err) {
      return refused("REDIS_UNAVAILABLE", INTAKE_TEXT.unavailable, `could not queue the message: ${errorText(err)}`);
    }
    if (res.kind !== "queued") return refusalOf(res);
    return this.signal(request.conversationKey, res.ahead, res.seq);
  }

  /**
   * Reserve a message's place in its conversation's line before its placeholder is posted: the
   * same checks and refusals as `ingest`. The place blocks the conversation (no worker starts it
   * or skips past it) until `attach` or `release`; a reservation never attached expires.
   */
  async reserve(request: ReservedRequest): Promise<ReserveOutcome> {
    const invalid = this.check(request.text);
    if (invalid) return invalid;
    let res: AppendOutcome;
    try {
      res = await this.inbox.reserve(request, this.limits(), this.opts.reservationMs ?? RESERVATION_MS);
    } catch (err) {
      return refused("REDIS_UNAVAILABLE", INTAKE_TEXT.unavailable, `could not queue the message: ${errorText(err)}`);
    }
    if (res.kind !== "queued") return refusalOf(res);
    return { status: "reserved", ahead: res.ahead, seq: res.seq };
  }

  /**
   * The placeholder is posted: attach it to the reserved place (showing `place`) and signal the
   * workers. "expired": the reservation ran out and a worker dropped it (nothing is queued).
   * Throws when Redis fails (the caller takes the placeholder back).
   */
  async attach(request: ChatRequest, place: number, seq: number): Promise<AttachOutcome> {
    if (!(await this.inbox.attach(request, place, this.limits().requestTtlSeconds))) return { status: "expired" };
    return this.signal(request.conversationKey, place, seq);
  }

  /** The placeholder could not be posted: give the reserved place up (the conversation moves on). */
  async release(conversationKey: ConversationKey, requestId: string): Promise<void> {
    if (await this.inbox.release(conversationKey, requestId)) await this.wake(conversationKey).catch(() => undefined);
  }

  private async signal(conversationKey: ConversationKey, ahead: number, seq: number): Promise<IngestQueued> {
    try {
      await this.wake(conversationKey);
    } catch (err) {
      // The message is safely in the inbox: the workers' sweeper adds the job. Not a refusal.
      return { status: "queued-unsignalled", ahead, seq, detail: `could not signal the workers: ${errorText(err)}` };
    }
    return { status: "queued", ahead, seq };
  }

  private async wake(conversationKey: ConversationKey): Promise<void> {
    if (this.routes) await this.routes.wake(conversationKey);
    else await this.queue.add("turn", { conversationKey }, jobOptionsFor(conversationKey));
  }

  /**
   * Stop pressed on a message still waiting in line: take it out before a worker starts it (true;
   * the caller shows that in its placeholder at once). False: it is generating (or done) — then
   * `stop` it.
   */
  async stopWaiting(conversationKey: ConversationKey, requestId: string): Promise<boolean> {
    const out = await this.inbox.withdrawWaiting(conversationKey, requestId);
    if (out) await this.wake(conversationKey).catch(() => undefined);
    return out;
  }

  /** The reply's message was deleted on the platform: stop it, and nothing more is posted for it. */
  async markGone(requestId: string): Promise<void> {
    await this.inbox.markGone(requestId);
  }

  /** Ask the worker generating `requestId` to stop (the partial answer stays). */
  async stop(requestId: string): Promise<void> {
    await this.inbox.requestStop(requestId);
  }
}
