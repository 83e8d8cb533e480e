/**
 * The local adapter process of `npm run chaos`: sends messages to many conversations as an
 * adapter would (ingest → Redis), retrying when told Redis is down, and logs every accepted
 * message as a JSON line for the checker.
 *
 *   tsx tools/chaos/chaosClient.ts --conversations 20 --messages 10 --out sent.jsonl
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { runMain } from "../../bin/runMain.ts";
import { loadConfig } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createChatQueue, Ingestor } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import type { ChatRequest } from "../../src/types.ts";

export interface SentRecord {
  requestId: string;
  conversationKey: string;
  index: number;
  text: string;
  messageId: string;
  attempts: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

runMain(async () => {
  const { values } = parseArgs({
    options: {
      conversations: { type: "string", default: "20" },
      messages: { type: "string", default: "10" },
      out: { type: "string" },
      "gap-ms": { type: "string", default: "60" },
    },
  });
  const conversations = Number(values.conversations);
  const perConversation = Number(values.messages);
  const gapMs = Number(values["gap-ms"]);
  if (!values.out) throw new Error("--out FILE is required");
  const out = fs.createWriteStream(values.out, { flags: "w" });
  const config = loadConfig();
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "producer");
  await connectRedis(redis, config.REDIS_URL);
  const queue = createChatQueue(redis, keys);
  const ingestor = new Ingestor(redis, queue, keys, { maxInputChars: config.MAX_INPUT_CHARS, maxPendingPerConversation: 1000 });
  let retries = 0;

  async function send(conv: number, index: number): Promise<void> {
    const messageId = randomUUID();
    const request: ChatRequest = {
      requestId: `local-chaos-${messageId}`,
      conversationKey: `local:chaos-${conv}`,
      author: { id: `chaos-user-${conv}`, name: `user${conv}` },
      text: `conversation ${conv} message ${index}`,
      receivedAt: Date.now(),
      reply: { platform: "local", channelId: `chaos-${conv}`, messageId },
    };
    for (let attempt = 1; ; attempt++) {
      const outcome = await ingestor.ingest({ ...request, receivedAt: Date.now() });
      if (outcome.status === "refused") {
        if (outcome.code === "DUPLICATE_MESSAGE" && attempt > 1) {
          // An earlier attempt reached the inbox before the connection dropped: it is queued.
        } else if (outcome.code === "REDIS_UNAVAILABLE") {
          retries++;
          await sleep(300); // "try again in a moment", as the user is told
          continue;
        } else {
          throw new Error(`message refused: ${outcome.code} (${outcome.userMessage})`);
        }
      }
      // "queued" or "queued-unsignalled": in the inbox either way (the sweeper signals the workers).
      const record: SentRecord = {
        requestId: request.requestId,
        conversationKey: request.conversationKey,
        index,
        text: request.text,
        messageId,
        attempts: attempt,
      };
      out.write(`${JSON.stringify(record)}\n`);
      return;
    }
  }

  // Each conversation sends its messages in order, some in bursts, all conversations at once.
  await Promise.all(
    Array.from({ length: conversations }, async (_, conv) => {
      for (let i = 0; i < perConversation; i++) {
        await send(conv, i);
        if (Math.random() < 0.7) await sleep(Math.random() * gapMs * 2);
      }
    }),
  );
  await new Promise<void>((r) => out.end(r));
  process.stderr.write(`chaos client: sent ${conversations * perConversation} messages (${retries} retries while Redis was unavailable)\n`);
  await queue.close();
  redis.disconnect();
  return 0;
});
