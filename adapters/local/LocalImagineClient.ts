/**
 * The terminal's /imagine: sends a request through the same intake as the platforms
 * (ImagineIntake: checks, image queue, image worker) and reads the reply back from its Redis
 * stream — progress lines, previews and the final picture (RedisStreamSink). Nothing is posted
 * before the request is queued; a refusal is thrown as a coded error for the terminal to print:
 * InputRejectedError with the sender's text, or RedisUnavailableError.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { InputRejectedError, RedisUnavailableError } from "../../src/errors.ts";
import type { ImagineInput } from "../../src/images/imagineOptions.ts";
import type { ImagineIntake } from "../../src/intake/ImagineIntake.ts";
import type { IntakeRefusal } from "../../src/intake/Intake.ts";
import { INTAKE_TEXT } from "../../src/intake/intakeMessages.ts";
import type { Keys } from "../../src/keys.ts";
import { type ReplyUpdate, readReplyStream } from "../../src/stream/RedisStreamSink.ts";
import type { ImagineRequest } from "../../src/types.ts";

export interface LocalImagineClientDeps {
  redis: Redis;
  /** A connection that may block (XREAD BLOCK). */
  blocking: Redis;
  keys: Keys;
  intake: ImagineIntake;
}

/** How a request ended, from its reply state: done (a picture, or a stop with one), failed (a note). */
export type ImagineSettled = "done" | "failed" | "unknown";

export class LocalImagineClient {
  constructor(
    private readonly deps: LocalImagineClientDeps,
    readonly room: string,
    private readonly author = { id: "local-user", name: "user" },
  ) {}

  get conversationKey(): string {
    return `local:${this.room}`;
  }

  /** Queue an /imagine and return the request (its options checked, its seed drawn). Throws the refusal as a coded error. */
  async submit(input: ImagineInput): Promise<ImagineRequest> {
    const id = randomUUID();
    let refused: IntakeRefusal | undefined;
    const result = await this.deps.intake.take(
      { input },
      {
        prepare: () => ({ requestId: `local-img-${id}`, conversationKey: this.conversationKey, author: this.author }),
        // The reply stream is keyed by the id: there is nothing to post, nor to take back.
        postPlaceholder: async () => ({ platform: "local", channelId: this.room, messageId: id }),
        withdraw: async (_placeholder, refusal) => {
          refused = refusal;
        },
        refuse: async (refusal) => {
          refused = refusal;
        },
      },
    );
    if (result.status === "queued" || result.status === "queued-unsignalled") return result.request;
    throw refusalError(refused ?? { code: "DUPLICATE_MESSAGE", userMessage: INTAKE_TEXT.duplicate });
  }

  /** Every update of the reply to `request`, ending with the final one. */
  updates(request: ImagineRequest, signal?: AbortSignal): AsyncGenerator<ReplyUpdate> {
    return readReplyStream(this.deps.blocking, this.deps.keys, request.reply.messageId, { signal });
  }

  /** Stop making the picture (the last preview comes back, marked stopped). */
  stop(request: ImagineRequest): Promise<void> {
    return this.deps.intake.stop(request.requestId);
  }

  /** Wait until the worker has committed the request (memory written), and say how it ended. */
  async settled(request: ImagineRequest, timeoutMs = 10_000): Promise<ImagineSettled> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const state = await this.deps.redis.hget(this.deps.keys.reply(request.requestId), "state");
      if (state === "done" || state === "failed") return state;
      await new Promise((r) => setTimeout(r, 10));
    }
    return "unknown";
  }
}

/** A refusal as the error the terminal prints (its code, and the text the sender is meant to read). */
function refusalError(r: IntakeRefusal): Error {
  switch (r.code) {
    case "REDIS_UNAVAILABLE":
      return new RedisUnavailableError(r.detail ? `${r.userMessage} (${r.detail})` : r.userMessage);
    case "INTERNAL_ERROR":
      return new Error(`could not queue the request: ${r.detail ?? "unknown error"}`);
    default:
      return new InputRejectedError(r.code, r.userMessage);
  }
}
