/**
 * One intake path for every surface (Discord, Slack, the terminal): claim the platform message,
 * let the platform admit it, check the text, post the placeholder, queue the request, then either
 * leave the answer to the workers or take the placeholder back and say why. The platforms differ
 * only in the callbacks they pass (`IntakePlatform`): how they refuse (a reply, an ephemeral, an
 * error for the terminal), where the placeholder goes, how it is withdrawn. The steps are
 * separate methods run in order by `take`, so changing their order is a local change.
 *
 * No platform SDK here: this is core.
 */
import type { Redis } from "ioredis";
import { hasContext, type RequestContext } from "../context/RequestContext.ts";
import type { Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import type { IngestOutcome, Ingestor, IngestQueued, IngestRefusalCode } from "../queue/Ingestor.ts";
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
  /** May still be resolving (a slow user lookup never delays the placeholder). */
  author: ChatAuthor | Promise<ChatAuthor>;
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
  /** The placeholder shows the place in line: the intake reads the inbox's length before posting it. */
  showsPlaceInLine?: boolean;
  /** After the claim, before the text is checked (access rules, hints). False: the platform has answered, or stays silent. */
  admit?(): Promise<boolean>;
  /**
   * After the text passed: where the request goes (open a thread, post the /ask question…). Null: it
   * could not; the platform has said why, and the claim is released.
   */
  prepare(): Promise<IntakeDraft | null> | IntakeDraft | null;
  /** Tell the sender why nothing was taken (nothing was posted, or the platform already took it back). */
  refuse(refusal: IntakeRefusal): Promise<void>;
  /**
   * Post the placeholder reply; returns where it is. Null: it could not be posted (the platform has
   * said why and taken back what `prepare` posted), and the claim is released.
   */
  postPlaceholder(draft: IntakeDraft, ahead: number): Promise<ReplyTarget | null>;
  /**
   * The request was refused after its placeholder was posted: take the placeholder back and, when a
   * refusal is given, say why. A duplicate (the request is already queued) is withdrawn silently.
   */
  withdraw(placeholder: ReplyTarget, refusal: IntakeRefusal | undefined): Promise<void>;
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
  ingestor: Pick<Ingestor, "ingest" | "check">;
  logger: Logger;
}

type Claim = "claimed" | "replay" | "unavailable";

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
    // 5. The placeholder, then 6. the queue. (Issue 12 swaps these two: the place in line is
    // fixed by the queue first, and the placeholder is posted, retried, then attached.)
    const placeholder = await this.place(platform, draft);
    if (!placeholder) return this.notPlaced(message.claimKey);
    const request = await this.request(draft, message.text, placeholder);
    const outcome = await this.enqueue(request);
    // 7. Settle: leave it to the workers, or take the placeholder back.
    return this.settle(platform, request, outcome);
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

  /** How many messages wait in the conversation's inbox (0 when Redis does not answer). */
  private async waiting(conversationKey: ConversationKey): Promise<number> {
    return this.deps.redis.zcard(this.deps.keys.inbox(conversationKey)).catch(() => 0);
  }

  private async place(platform: IntakePlatform, draft: IntakeDraft): Promise<ReplyTarget | null> {
    const ahead = platform.showsPlaceInLine ? await this.waiting(draft.conversationKey) : 0;
    return platform.postPlaceholder(draft, ahead);
  }

  private async request(draft: IntakeDraft, text: string, reply: ReplyTarget): Promise<ChatRequest> {
    const request: ChatRequest = {
      requestId: draft.requestId,
      conversationKey: draft.conversationKey,
      author: await draft.author,
      text,
      receivedAt: Date.now(),
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

  /** Ingest; an unexpected failure (a bug) becomes an INTERNAL_ERROR refusal so the placeholder is not left behind. */
  private async enqueue(request: ChatRequest): Promise<IngestOutcome | { status: "failed"; err: unknown }> {
    try {
      return await this.deps.ingestor.ingest(request);
    } catch (err) {
      return { status: "failed", err };
    }
  }

  private async settle(
    platform: IntakePlatform,
    request: ChatRequest,
    outcome: IngestOutcome | { status: "failed"; err: unknown },
  ): Promise<IntakeResult> {
    const log = this.deps.logger;
    const ids = { requestId: request.requestId, conversation: request.conversationKey };
    switch (outcome.status) {
      case "queued":
      case "queued-unsignalled": {
        if (outcome.status === "queued") log.info({ ...ids, ahead: outcome.ahead }, "queued");
        else
          log.warn(
            { ...ids, ahead: outcome.ahead, detail: outcome.detail },
            "queued, but the workers were not signalled; the sweeper will",
          );
        await platform.queued?.(request, outcome);
        return { status: outcome.status, request, ahead: outcome.ahead, seq: outcome.seq };
      }
      case "refused": {
        if (outcome.code === "DUPLICATE_MESSAGE") {
          await platform.withdraw(request.reply, undefined);
          return { status: "duplicate" };
        }
        log.info({ ...ids, code: outcome.code, detail: outcome.detail }, "not queued");
        const refusal: IntakeRefusal = { code: outcome.code, userMessage: outcome.userMessage };
        if (outcome.detail !== undefined) refusal.detail = outcome.detail;
        await platform.withdraw(request.reply, refusal);
        return { status: "refused", refusal, posted: true };
      }
      case "failed": {
        log.error({ ...ids, err: outcome.err }, "ingest failed");
        const detail = outcome.err instanceof Error ? outcome.err.message : String(outcome.err);
        const refusal: IntakeRefusal = { code: "INTERNAL_ERROR", userMessage: INTAKE_TEXT.somethingWrong, detail };
        await platform.withdraw(request.reply, refusal);
        return { status: "refused", refusal, posted: true };
      }
    }
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
