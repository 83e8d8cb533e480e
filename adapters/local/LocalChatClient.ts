/**
 * The local surface's client: sends a message through the same intake as the platforms (check →
 * ingest → Redis → worker) and reads the streamed reply back from its Redis stream. Nothing is
 * posted before the message is queued (the reply stream needs no placeholder), and a refusal is
 * thrown as a coded error for the terminal to print: InputRejectedError with the sender's text,
 * or RedisUnavailableError.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { InputRejectedError, RedisUnavailableError } from "../../src/errors.ts";
import { Intake, type IntakeRefusal } from "../../src/intake/Intake.ts";
import { INTAKE_TEXT } from "../../src/intake/intakeMessages.ts";
import type { Keys } from "../../src/keys.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { Ingestor } from "../../src/queue/Ingestor.ts";
import { type ReplyUpdate, readReplyStream } from "../../src/stream/RedisStreamSink.ts";
import { normalizeUserText } from "../../src/text/normalizeUserText.ts";
import type { ChatRequest } from "../../src/types.ts";

export interface LocalChatClientDeps {
  redis: Redis;
  /** A connection that may block (XREAD BLOCK). */
  blocking: Redis;
  keys: Keys;
  ingestor: Ingestor;
  memoryTtlSeconds: number;
  /** Default: silent. */
  logger?: Logger;
}

export class LocalChatClient {
  private readonly memory: ConversationMemory;
  private readonly intake: Intake;

  constructor(
    private readonly deps: LocalChatClientDeps,
    readonly room: string,
    private readonly author = { id: "local-user", name: "user" },
  ) {
    this.memory = new ConversationMemory(deps.redis, deps.keys, deps.memoryTtlSeconds);
    const logger = (deps.logger ?? createLogger({ level: "silent" })).child({ platform: "local", room });
    this.intake = new Intake({ redis: deps.redis, keys: deps.keys, ingestor: deps.ingestor, logger });
  }

  get conversationKey(): string {
    return `local:${this.room}`;
  }

  /** Queue `text` and return the request, without waiting for the answer. Throws the refusal as a coded error. */
  async submit(text: string): Promise<ChatRequest> {
    const id = randomUUID();
    let refused: IntakeRefusal | undefined;
    const result = await this.intake.take(
      { text: normalizeUserText(text) },
      {
        prepare: () => ({ requestId: `local-${id}`, conversationKey: this.conversationKey, author: this.author }),
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
  updates(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ReplyUpdate> {
    return readReplyStream(this.deps.blocking, this.deps.keys, request.reply.messageId, { signal });
  }

  /** Send and wait for the final answer, calling `onUpdate` for each snapshot. */
  async ask(text: string, onUpdate?: (u: ReplyUpdate) => void, signal?: AbortSignal): Promise<ReplyUpdate> {
    const request = await this.submit(text);
    for await (const u of this.updates(request, signal)) {
      onUpdate?.(u);
      if (u.final) {
        await this.waitCommitted(request);
        return u;
      }
    }
    throw new Error("the reply stream ended without a final update");
  }

  /**
   * The worker commits memory right after the final edit; wait for that, so whatever the caller
   * does next (another message, /reset, exit) sees this exchange in memory.
   */
  async waitCommitted(request: ChatRequest, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.deps.redis.hget(this.deps.keys.reply(request.requestId), "state")) === "done") return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async reset(): Promise<void> {
    await this.memory.reset(this.conversationKey);
  }

  async turnCount(): Promise<number> {
    return (await this.memory.turns(this.conversationKey)).length;
  }
}

/** A refusal as the error the terminal prints (its code, and the text the sender is meant to read). */
function refusalError(r: IntakeRefusal): Error {
  switch (r.code) {
    case "REDIS_UNAVAILABLE":
      return new RedisUnavailableError(r.detail ? `${r.userMessage} (${r.detail})` : r.userMessage);
    case "INTERNAL_ERROR":
      return new Error(`could not queue the message: ${r.detail ?? "unknown error"}`);
    default:
      return new InputRejectedError(r.code, r.userMessage);
  }
}
