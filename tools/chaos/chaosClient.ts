/**
 * The local adapter process of `npm run chaos`: sends messages to many conversations as an
 * adapter would (ingest → Redis), paced over `--send-ms` so that the faults hit while it sends;
 * a message refused because Redis is down is retried, as the user is told to. Every accepted
 * message is written as a JSON line (SentRecord) for the checker. Pacing is seeded.
 *
 *   tsx tools/chaos/chaosClient.ts --conversations 20 --messages 10 --send-ms 20000 --seed 1 --out sent.jsonl
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
import { mulberry32 } from "../random.ts";
import type { SentRecord } from "./checkDelivery.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long a refused message waits before it is sent again ("try again in a moment"). */
const RETRY_MS = 300;

runMain(async () => {
  const { values } = parseArgs({
    options: {
      conversations: { type: "string", default: "20" },
      messages: { type: "string", default: "10" },
      "send-ms": { type: "string", default: "20000" },
      seed: { type: "string", default: "1" },
      out: { type: "string" },
    },
  });
  const conversations = Number(values.conversations);
  const perConversation = Number(values.messages);
  const meanGapMs = Number(values["send-ms"]) / perConversation;
  const seed = Number(values.seed);
  if (!values.out) throw new Error("--out FILE is required");
  const out = fs.createWriteStream(values.out, { flags: "w" });
  const config = loadConfig();
  const keys = new Keys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL, "producer");
  await connectRedis(redis, config.REDIS_URL);
  const queue = createChatQueue(redis, keys);
  const ingestor = new Ingestor(redis, queue, keys, { maxInputChars: config.MAX_INPUT_CHARS, maxPendingPerConversation: 1000 });
  let refusals = 0;
  let refusedMessages = 0;

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
    let refused = 0;
    for (let attempt = 1; ; attempt++) {
      const outcome = await ingestor.ingest({ ...request, receivedAt: Date.now() });
      if (outcome.status === "refused") {
        if (outcome.code === "DUPLICATE_MESSAGE" && attempt > 1) {
          // An earlier attempt reached the inbox before the connection dropped: it is queued.
        } else if (outcome.code === "REDIS_UNAVAILABLE") {
          refused++;
          refusals++;
          await sleep(RETRY_MS); // "try again in a moment", as the user is told
          continue;
        } else {
          throw new Error(`message refused: ${outcome.code} (${outcome.userMessage})`);
        }
      }
      // "queued" or "queued-unsignalled": in the inbox either way (the sweeper signals the workers).
      if (refused > 0) refusedMessages++;
      const record: SentRecord = {
        requestId: request.requestId,
        conversationKey: request.conversationKey,
        index,
        text: request.text,
        messageId,
        attempts: attempt,
        refusals: refused,
        acceptedAt: Date.now(),
      };
      out.write(`${JSON.stringify(record)}\n`);
      return;
    }
  }

  // Each conversation sends its messages in order, all conversations at once; gaps are random
  // (seeded) around the mean, with some bursts of back-to-back messages.
  await Promise.all(
    Array.from({ length: conversations }, async (_, conv) => {
      const random = mulberry32(seed * 1000 + conv);
      await sleep(random() * meanGapMs);
      for (let i = 0; i < perConversation; i++) {
        await send(conv, i);
        if (random() < 0.8) await sleep(-Math.log(1 - random()) * meanGapMs * 1.25);
      }
    }),
  );
  await new Promise<void>((r) => out.end(r));
  process.stderr.write(
    `chaos client: ${conversations * perConversation} messages accepted; ${refusedMessages} were refused while Redis was unavailable and retried (${refusals} refusals)\n`,
  );
  await queue.close();
  redis.disconnect();
  return 0;
});
