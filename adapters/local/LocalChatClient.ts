/**
 * The local surface's client: sends a message through the same intake as the platforms (check →
 * ingest → Redis → worker) and reads the streamed reply back from its Redis stream. Nothing is
 * posted before the message is queued (the reply stream needs no placeholder), and a refusal is
 * thrown as a coded error for the terminal to print: InputRejectedError with the sender's text,
 * or RedisUnavailableError. It remembers which answers were not shown yet, so a chat reopened
 * after Ctrl-C can show them.
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

/** A reply's settled state (see ConversationInbox). */
export type ReplyState = "done" | "failed" | "refused";

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
    if (result.status === "queued" || result.status === "queued-unsignalled") {
      await this.remember(result.request);
      return result.request;
    }
    throw refusalError(refused ?? { code: "DUPLICATE_MESSAGE", userMessage: INTAKE_TEXT.duplicate });
  }

  /** Every update of the reply to `request`, ending with the final one. */
  updates(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ReplyUpdate> {
    return readReplyStream(this.deps.blocking, this.deps.keys, request.reply.messageId, { signal });
  }

  /** Send and wait for the final answer, calling `onUpdate` for each snapshot. */
  async ask(text: string, onUpdate?: (u: ReplyUpdate) => void, signal?: AbortSignal): Promise<ReplyUpdate> {
    return this.follow(await this.submit(text), onUpdate, signal);
  }

  /**
   * Wait for the final answer to `request` (already queued), calling `onUpdate` for each snapshot.
   * `waitCommitted(request)` then tells how the reply ended (done, failed, refused).
   */
  async follow(request: ChatRequest, onUpdate?: (u: ReplyUpdate) => void, signal?: AbortSignal): Promise<ReplyUpdate> {
    for await (const u of this.updates(request, signal)) {
      onUpdate?.(u);
      if (u.final) {
        await this.waitCommitted(request);
        await this.markSeen(request);
        return u;
      }
    }
    throw new Error("the reply stream ended without a final update");
  }

  /**
   * The worker commits memory right after the final edit; wait for that, so whatever the caller
   * does next (another message, /reset, exit) sees this exchange in memory. Returns the reply's
   * final state (`done`, `failed`, `refused`), or undefined when it did not settle in time (or
   * Redis did not answer meanwhile).
   */
  async waitCommitted(request: ChatRequest, timeoutMs = 10_000): Promise<ReplyState | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const state = await this.deps.redis.hget(this.deps.keys.reply(request.requestId), "state").catch(() => null);
      if (state === "done" || state === "failed" || state === "refused") return state;
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  }

  // --- answers not shown yet (the chat closed before they arrived) ------------------------------

  private async remember(request: ChatRequest): Promise<void> {
    const key = this.deps.keys.localUnseen(this.conversationKey);
    await this.deps.redis
      .multi()
      .hset(key, request.requestId, JSON.stringify(request))
      .expire(key, this.deps.memoryTtlSeconds)
      .exec()
      .catch(() => undefined);
  }

  /** The answer to `request` was shown (best effort: Redis may be away). */
  async markSeen(request: ChatRequest): Promise<void> {
    await this.deps.redis.hdel(this.deps.keys.localUnseen(this.conversationKey), request.requestId).catch(() => undefined);
  }

  /**
   * Messages of this room whose answer was never shown, oldest first, each with its reply state:
   * `done`/`failed`/`refused` (finished while the chat was closed), `queued`/`generating` (still
   * to come), or undefined (forgotten: too old).
   */
  async unseen(): Promise<Array<{ request: ChatRequest; state: string | undefined }>> {
    const all = await this.deps.redis.hgetall(this.deps.keys.localUnseen(this.conversationKey));
    const requests = Object.values(all)
      .map((json) => JSON.parse(json) as ChatRequest)
      .sort((a, b) => a.receivedAt - b.receivedAt);
    const out: Array<{ request: ChatRequest; state: string | undefined }> = [];
    for (const request of requests) {
      const state = await this.deps.redis.hget(this.deps.keys.reply(request.requestId), "state");
      out.push({ request, state: state ?? undefined });
    }
    return out;
  }

  /**
   * The final answer to `request` once it finished: its reply stream's last update (kept an hour),
   * else the answer the worker recorded before delivering it; undefined when neither is left.
   */
  async finalAnswer(request: ChatRequest): Promise<ReplyUpdate | undefined> {
    const last = await this.lastUpdate(request);
    if (last?.final) return last;
    const decided = await this.deps.redis.hget(this.deps.keys.reply(request.requestId), "decided");
    if (!decided) return undefined;
    const d = JSON.parse(decided) as { text: string; note?: string };
    return { id: "0-0", text: d.text, final: true, ...(d.note ? { note: d.note } : {}) };
  }

  private async lastUpdate(request: ChatRequest): Promise<ReplyUpdate | undefined> {
    const entries = (await this.deps.redis.xrevrange(this.deps.keys.replyStream(request.reply.messageId), "+", "-", "COUNT", 1)) as Array<
      [string, string[]]
    >;
    const [id, flat] = entries[0] ?? [];
    if (!id || !flat) return undefined;
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
    const update: ReplyUpdate = { id, text: f.text ?? "", final: f.final === "1" };
    if (f.note) update.note = f.note;
    return update;
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
