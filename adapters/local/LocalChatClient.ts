/**
 * The local surface's client: sends a message through the same path as the platforms (ingest →
 * Redis → worker) and reads the streamed reply back from its Redis stream.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Keys } from "../../src/keys.ts";
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
}

export class LocalChatClient {
  private readonly memory: ConversationMemory;

  constructor(
    private readonly deps: LocalChatClientDeps,
    readonly room: string,
    private readonly author = { id: "local-user", name: "user" },
  ) {
    this.memory = new ConversationMemory(deps.redis, deps.keys, deps.memoryTtlSeconds);
  }

  get conversationKey(): string {
    return `local:${this.room}`;
  }

  /** Queue `text` and return the request, without waiting for the answer. */
  async submit(text: string): Promise<ChatRequest> {
    const id = randomUUID();
    const request: ChatRequest = {
      requestId: `local-${id}`,
      conversationKey: this.conversationKey,
      author: this.author,
      text: normalizeUserText(text),
      receivedAt: Date.now(),
      reply: { platform: "local", channelId: this.room, messageId: id },
    };
    await this.deps.ingestor.ingest(request);
    return request;
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
