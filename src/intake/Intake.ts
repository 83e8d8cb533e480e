/**
 * One intake path for every surface (Discord, Slack, the terminal): claim the platform message,
 * let the platform admit it, check the text, reserve its place in its conversation's line, post
 * the placeholder showing that place, attach the placeholder to the place (which wakes the
 * workers) — or say why not and take back what was posted. The place is fixed before anything
 * is posted, so the order of a burst is the order it arrived in and every placeholder shows the
 * right number ahead; a worker never starts a message before its placeholder exists, nor skips
 * past it. The platforms differ only in the callbacks they pass (`IntakePlatform`): how they
 * refuse (a reply, an ephemeral, an error for the terminal), where the placeholder goes (the
 * terminal has nothing to post), how it is withdrawn.
 *
 * No platform SDK here: this is core.
 */
import type { Redis } from "ioredis";
import { hasContext, type RequestContext } from "../context/RequestContext.ts";
import type { Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import type { AttachOutcome, Ingestor, IngestQueued, IngestRefusal, IngestRefusalCode, ReserveOutcome } from "../queue/Ingestor.ts";
import type { ChatAuthor, ChatPlace, ChatRequest, ConversationKey, ReplyTarget } from "../types.ts";
import { INTAKE_TEXT } from "./intakeMessages.ts";

/** How long a claimed platform message / event / interaction id is remembered (replays, retries, double delivery). */
export const CLAIM_TTL_SECONDS = 24 * 3600;

/** Why a message was not taken: an ingest refusal, or an unexpected failure (a bug) while queueing it. */
export type IntakeRefusalCode = IngestRefusalCode | "INTERNAL_ERROR";

export interface IntakeRefusal {
  code: IntakeRefusalCode;
  /** Safe to show the sender. */
  userMessage: string;
  /** For logs only. */
  detail?: string;
}

/** The request being taken, before its placeholder exists (the intake adds the text, the time and the reply target). */
export interface IntakeDraft {
  requestId: string;
  conversationKey: ConversationKey;
  /** May still be resolving (a slow user lookup never delays the placeholder: give `authorId` then). */
  author: ChatAuthor | Promise<ChatAuthor>;
  /** The author's id when `author` is still resolving (the per-user limit counts it at once). */
  authorId?: string;
  regenerate?: boolean;
  /** Where the message was posted: the worker answers with that place's settings. */
  place?: ChatPlace;
  /** What the message points at; may still be loading (files download while the placeholder shows). A failure leaves it out. */
  context?: RequestContext | Promise<RequestContext | undefined>;
}

/** A message as it arrives. */
export interface IncomingMessage {
  /** The text for the model (normalized by the platform). */
  text: string;
  /** Redis key claimed (SET NX) before anything else: a replay finds it taken and is dropped. None: nothing to claim. */
  claimKey?: string;
}

/** What a platform does at each step. Every callback handles its own platform errors (they are not refusals). */
export interface IntakePlatform {
  /** After the claim, before the text is checked (access rules, hints). False: the platform has answered, or stays silent. */
  admit?(): Promise<boolean>;
  /**
   * After the text passed: where the request goes (open a thread, post the /ask question…). Null: it
   * could not; the platform has said why, and the claim is released.
   */
  prepare(): Promise<IntakeDraft | null> | IntakeDraft | null;
  /** Tell the sender why nothing was taken (before `prepare`: nothing was posted). */
  refuse(refusal: IntakeRefusal): Promise<void>;
  /**
   * Post the placeholder reply, showing its place in line (`ahead` messages of the conversation
   * before it, fixed when the place was reserved); retry what can succeed later (rate limits,
   * server errors) — the place is held meanwhile. Returns where it is. Null: it could not be posted
   * (the platform has said why and taken back what `prepare` posted); the place and the claim are
   * released.
   */
  postPlaceholder(draft: IntakeDraft, ahead: number): Promise<ReplyTarget | null>;
  /**
   * The request was refused after `prepare`: take back what `prepare` posted and the placeholder
   * (when one was posted) and, when a refusal is given, say why. A duplicate (the request is
   * already queued) is withdrawn silently.
   */
  withdraw(placeholder: ReplyTarget | undefined, refusal: IntakeRefusal | undefined): Promise<void>;
  /** The request is in its conversation's inbox; it will be answered (signalled or not). */
  queued?(request: ChatRequest, outcome: IngestQueued): Promise<void>;
}

export type IntakeResult =
  | { status: "queued" | "queued-unsignalled"; request: ChatRequest; ahead: number; seq: number }
  /** The claim was taken already: a replay or retry, dropped silently. */
  | { status: "replay" }
  /** The platform's own checks (`admit`) answered. */
  | { status: "not-admitted" }
  /** Not taken; the sender was told (`posted`: a placeholder had been posted and was withdrawn). */
  | { status: "refused"; refusal: IntakeRefusal; posted: boolean }
  /** `prepare` or `postPlaceholder` could not post; the platform said why. */
  | { status: "not-placed" }
  /** Already queued under this request id: the placeholder was withdrawn silently. */
  | { status: "duplicate" };

export interface IntakeDeps {
  redis: Redis;
  keys: Keys;
  ingestor: Pick<Ingestor, "check" | "reserve" | "attach" | "release">;
  logger: Logger;
}

type Claim = "claimed" | "replay" | "unavailable";
/** An unexpected failure (a bug) while queueing: becomes an INTERNAL_ERROR refusal, so nothing is left behind. */
type Failed = { status: "failed"; err: unknown };

export class Intake {
  constructor(private readonly deps: IntakeDeps) {}

  /** Take one message through every step, in order. */
  async take(message: IncomingMessage, platform: IntakePlatform): Promise<IntakeResult> {
    // 1. Claim: a replay stops here, silently.
    const claim = await this.claim(message.claimKey);
    if (claim === "replay") return { status: "replay" };
    if (claim === "unavailable") return this.refuse(platform, unavailable("could not claim the message"));
    // 2. The platform's own checks (access, hints).
    if (platform.admit && !(await platform.admit())) return { status: "not-admitted" };
    // 3. The text.
    const invalid = this.deps.ingestor.check(message.text);
    if (invalid) return this.refuse(platform, { code: invalid.code, userMessage: invalid.userMessage });
    // 4. Where it goes.
    const draft = await platform.prepare();
    if (!draft) return this.notPlaced(message.claimKey);
    // 5. Its place in line, fixed before anything is posted.
    const receivedAt = Date.now();
    const reserved = await this.reserve(draft, message.text, receivedAt);
    if (reserved.status !== "reserved") return this.settleRefusal(platform, draft, undefined, reserved);
    // 6. The placeholder, showing that place (retried by the platform while it can succeed).
    const placeholder = await platform.postPlaceholder(draft, reserved.ahead);
    if (!placeholder) {
      await this.deps.ingestor.release(draft.conversationKey, draft.requestId).catch((err: unknown) => {
        this.deps.logger.warn({ err, requestId: draft.requestId }, "could not release the place; it expires");
      });
      return this.notPlaced(message.claimKey);
    }
    // 7. Attach the placeholder to the place; the workers are woken.
    const request = await this.request(draft, message.text, placeholder, receivedAt);
    const outcome = await this.attach(request, reserved.ahead, reserved.seq);
    return this.settle(platform, draft, request, outcome, message.claimKey);
  }

  /** SET NX on the claim key (no key: nothing to claim). */
  async claim(key: string | undefined): Promise<Claim> {
    if (key === undefined) return "claimed";
    try {
      const ok = await this.deps.redis.set(key, "1", "EX", CLAIM_TTL_SECONDS, "NX");
      if (ok === null) this.deps.logger.info({ claim: key }, "duplicate delivery dropped");
      return ok === null ? "replay" : "claimed";
    } catch (err) {
      this.deps.logger.warn({ err: String(err) }, "Redis unavailable: message not taken");
      return "unavailable";
    }
  }

  /** Let a redelivery try again (the message was not taken). */
  async release(key: string | undefined): Promise<void> {
    if (key !== undefined) await this.deps.redis.del(key).catch(() => undefined);
  }

  /** Reserve the place; an unexpected failure (a bug) becomes an INTERNAL_ERROR refusal. */
  private async reserve(draft: IntakeDraft, text: string, receivedAt: number): Promise<ReserveOutcome | Failed> {
    try {
      const authorId = draft.authorId ?? (await draft.author).id;
      const { requestId, conversationKey } = draft;
      return await this.deps.ingestor.reserve({ requestId, conversationKey, authorId, text, receivedAt });
    } catch (err) {
      return { status: "failed", err };
    }
  }

  private async attach(request: ChatRequest, place: number, seq: number): Promise<AttachOutcome | Failed> {
    try {
      return await this.deps.ingestor.attach(request, place, seq);
    } catch (err) {
      return { status: "failed", err };
    }
  }

  private async request(draft: IntakeDraft, text: string, reply: ReplyTarget, receivedAt: number): Promise<ChatRequest> {
    const request: ChatRequest = {
      requestId: draft.requestId,
      conversationKey: draft.conversationKey,
      author: await draft.author,
      text,
      receivedAt,
      reply,
    };
    if (draft.regenerate) request.regenerate = true;
    if (draft.place) request.place = draft.place;
    const context = await Promise.resolve(draft.context).catch((err: unknown) => {
      this.deps.logger.warn({ err, requestId: draft.requestId }, "could not gather the message's context; answering without it");
      return undefined;
    });
    if (hasContext(context)) request.context = context;
    return request;
  }

  /** Attached: leave it to the workers. Otherwise take back what was posted and say why. */
  private async settle(
    platform: IntakePlatform,
    draft: IntakeDraft,
    request: ChatRequest,
    outcome: AttachOutcome | Failed,
    claimKey: string | undefined,
  ): Promise<IntakeResult> {
    const log = this.deps.logger;
    const ids = { requestId: request.requestId, conversation: request.conversationKey };
    if (outcome.status === "queued" || outcome.status === "queued-unsignalled") {
      if (outcome.status === "queued") log.info({ ...ids, ahead: outcome.ahead }, "queued");
      else
        log.warn({ ...ids, ahead: outcome.ahead, detail: outcome.detail }, "queued, but the workers were not signalled; the sweeper will");
      await platform.queued?.(request, outcome);
      return { status: outcome.status, request, ahead: outcome.ahead, seq: outcome.seq };
    }
    if (outcome.status === "expired") {
      // The place ran out before the placeholder was attached (a very slow post): the message may be sent again.
      log.warn(ids, "the reserved place expired before its placeholder was attached");
      await this.release(claimKey);
      const refusal: IntakeRefusal = { code: "INTERNAL_ERROR", userMessage: INTAKE_TEXT.somethingWrong, detail: "reservation expired" };
      await platform.withdraw(request.reply, refusal);
      return { status: "refused", refusal, posted: true };
    }
    // Attaching failed (Redis): give the place up and take the placeholder back.
    await this.deps.ingestor.release(draft.conversationKey, draft.requestId).catch(() => undefined);
    return this.settleRefusal(platform, draft, request.reply, outcome as Failed);
  }

  /** Not queued (refused, or a bug): take back what `prepare` (and the placeholder) posted, and say why. */
  private async settleRefusal(
    platform: IntakePlatform,
    draft: IntakeDraft,
    placeholder: ReplyTarget | undefined,
    outcome: IngestRefusal | Failed,
  ): Promise<IntakeResult> {
    const log = this.deps.logger;
    const ids = { requestId: draft.requestId, conversation: draft.conversationKey };
    if (outcome.status === "failed") {
      log.error({ ...ids, err: outcome.err }, "queueing failed");
      const detail = outcome.err instanceof Error ? outcome.err.message : String(outcome.err);
      const refusal: IntakeRefusal = { code: "INTERNAL_ERROR", userMessage: INTAKE_TEXT.somethingWrong, detail };
      await platform.withdraw(placeholder, refusal);
      return { status: "refused", refusal, posted: placeholder !== undefined };
    }
    if (outcome.code === "DUPLICATE_MESSAGE") {
      await platform.withdraw(placeholder, undefined);
      return { status: "duplicate" };
    }
    log.info({ ...ids, code: outcome.code, detail: outcome.detail }, "not queued");
    const refusal: IntakeRefusal = { code: outcome.code, userMessage: outcome.userMessage };
    if (outcome.detail !== undefined) refusal.detail = outcome.detail;
    await platform.withdraw(placeholder, refusal);
    return { status: "refused", refusal, posted: placeholder !== undefined };
  }

  private async refuse(platform: IntakePlatform, refusal: IntakeRefusal): Promise<IntakeResult> {
    await platform.refuse(refusal);
    return { status: "refused", refusal, posted: false };
  }

  private async notPlaced(claimKey: string | undefined): Promise<IntakeResult> {
    await this.release(claimKey);
    return { status: "not-placed" };
  }
}

/** Redis did not answer: the same text everywhere. */
export function unavailable(detail?: string): IntakeRefusal {
  return detail === undefined
    ? { code: "REDIS_UNAVAILABLE", userMessage: INTAKE_TEXT.unavailable }
    : { code: "REDIS_UNAVAILABLE", userMessage: INTAKE_TEXT.unavailable, detail };
}
