/**
 * `npm start` as an operator runs it: the adapters whose credentials are configured plus a worker
 * in one process — here Discord, against the loopback simulator.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { WorkerProcess } from "../../tools/chaos/WorkerProcess.ts";
import { testRedisUrl } from "../helpers/testRedis.ts";
import { tinyModelPath } from "../helpers/tinyModel.ts";
import { DiscordSimulator } from "../sim/discord/DiscordSimulator.ts";

const BOT = "910000000000000001";
const GUILD = "210000000000000001";
const CHANNEL = "310000000000000001";
const ALICE = { id: "510000000000000001", username: "alice" };
const prefix = `qbt-start-${randomUUID().slice(0, 8)}`;

let sim: DiscordSimulator;
let proc: WorkerProcess | undefined;

beforeAll(async () => {
  sim = await DiscordSimulator.start({ botUserId: BOT });
  sim.addGuild({ id: GUILD, name: "g", channels: [{ id: CHANNEL, name: "general", type: 0 }], members: [{ user: ALICE }] });
});

afterAll(async () => {
  await proc?.stop();
  await sim?.stop();
  const redis = new Redis(testRedisUrl());
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

it("starts the Discord adapter and a worker; a mention is answered in place; SIGTERM exits cleanly", async () => {
  proc = await WorkerProcess.start(
    {
      MODEL: await tinyModelPath(),
      THREADS: "1",
      MAX_NEW_TOKENS: "12",
      CONTEXT_SIZE: "1024",
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: prefix,
      DISCORD_TOKEN: "fake-token-for-sim",
      DISCORD_API_URL: sim.apiBase,
      STREAM_INTERVAL_MS: "200",
    },
    90_000,
    "bin/start.ts",
  );
  await sim.waitFor(() => sim.identifies.length > 0, 30_000, "the gateway login");
  const msg = sim.userSays({ channelId: CHANNEL, author: ALICE, content: "hello there", mentionsBot: true });
  const reply = await sim.waitFor(
    () => sim.messages(CHANNEL).find((m) => m.authorId === BOT && m.messageReference?.message_id === msg.id && !m.content.startsWith("⏳")),
    60_000,
    "the answer",
  );
  expect(reply.content.length).toBeGreaterThan(0);
  const redis = new Redis(testRedisUrl());
  const key = `${prefix}:turns:discord:${GUILD}:${CHANNEL}`;
  const turns = await sim.waitFor(
    async () => {
      const t = await redis.lrange(key, 0, -1);
      return t.length === 2 ? t.map((x) => JSON.parse(x) as { role: string; text: string }) : undefined;
    },
    30_000,
    "the committed turns",
  );
  redis.disconnect();
  expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
  expect(turns[0]!.text).toBe("hello there");
  // The message shows the stored answer (plus a note under it).
  expect(sim.message(reply.id)!.content.startsWith(turns[1]!.text)).toBe(true);
  proc.kill("SIGTERM");
  expect(await proc.exit()).toBe(0);
});
