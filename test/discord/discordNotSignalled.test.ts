/**
 * "Queued, but the workers were not signalled" on Discord: the message reaches its inbox while the
 * BullMQ add fails (the adapter's producer queue points at a port nobody listens on). The user must
 * see no refusal — the placeholder stays "Thinking…" and is never marked ⚠️ — and the workers'
 * sweeper answers it. Before the intake, Discord said the message was refused and then answered it
 * anyway; a Regenerate in that state restored the old answer, said "try again", and regenerated it.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { type RunningDiscordAdapter, startDiscordAdapter } from "../../adapters/discord/startDiscordAdapter.ts";
import type { Config } from "../../src/config.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../../src/queue/Ingestor.ts";
import { createRedis } from "../../src/redisConnection.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { DiscordSimulator, type MessageRecord } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const CHANNEL = "300000000000000001";
const ASK_CHANNEL = "300000000000000002";
const ALICE = { id: "500000000000000001", username: "alice" };

let sim: DiscordSimulator;
let runner: ModelRunner;
let h: Harness;
let config: Config;
let adapter: RunningDiscordAdapter | undefined;
const dead = createRedis("redis://127.0.0.1:1", "producer");
const events: GenerationEvent[] = [];

beforeAll(async () => {
  sim = await DiscordSimulator.start({ botUserId: BOT, heartbeatIntervalMs: 500 });
  sim.addGuild({
    id: GUILD,
    name: "Guild",
    channels: [
      { id: CHANNEL, name: "general", type: 0 },
      { id: ASK_CHANNEL, name: "ask", type: 0 },
    ],
    members: [{ user: ALICE }],
  });
  config = await testConfig({ DISCORD_TOKEN: "fake-token-for-sim", DISCORD_API_URL: sim.apiBase });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  // The worker's sweeper is what finds the unsignalled inbox.
  const worker = await h.startWorker({ sinks: { discord: createDiscordSink(config, h.logger) }, sweepIntervalMs: 300 });
  worker.worker.on("generation", (e) => events.push(e));
  // The inbox is written on the real Redis; the job that would wake the workers cannot be added.
  const ingestor = new Ingestor(h.redis, createChatQueue(dead, h.keys), h.keys, ingestOptionsFrom(config, { rateLimit: false }));
  adapter = await startDiscordAdapter({
    config,
    logger: h.logger,
    redis: h.redis,
    keys: h.keys,
    ingestor,
    memory: new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS),
  });
});

afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await runner?.close();
  await sim?.stop();
  dead.disconnect();
});

function generated(requestId: string): Promise<GenerationEvent> {
  return sim.waitFor(() => events.find((e) => e.request.requestId === requestId), 30_000, `the answer to ${requestId}`);
}

/** Every text the message ever showed. */
function shown(m: MessageRecord): string[] {
  return sim.history(m.id).map((v) => v.content);
}

function botMessages(channelId: string): MessageRecord[] {
  return sim.messages(channelId).filter((m) => m.authorId === BOT);
}

it("a mention whose workers were not signalled shows no refusal and is answered by the sweeper", async () => {
  const u = sim.userSays({ channelId: CHANNEL, author: ALICE, content: "are you there?", mentionsBot: true });
  const e = await generated(`discord-${u.id}`);
  const reply = sim.message(e.request.reply.messageId)!;
  expect(reply.messageReference?.message_id).toBe(u.id);
  expect(shown(reply)[0]).toBe("⏳ Thinking…");
  expect(shown(reply).some((t) => t.startsWith("⚠️") || t.includes("try again"))).toBe(false);
  expect(reply.content.startsWith(e.result.text.slice(0, 20))).toBe(true);
  expect(botMessages(CHANNEL)).toHaveLength(1);
  const turns = await new ConversationMemory(h.redis, h.keys, 3600).turns(e.request.conversationKey);
  expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);

  // Regenerate in the same state: no "try again", the old answer is not put back; it is regenerated.
  const press = sim.interaction({ type: 3, customId: `regen:discord-${u.id}`, messageId: reply.id, channelId: CHANNEL, user: ALICE });
  const e2 = await generated(`discord-r${press.id}`);
  expect(e2.request.reply.messageId).toBe(reply.id);
  expect(press.responses().filter((r) => r.ephemeral)).toEqual([]);
  const regenerated = shown(sim.message(reply.id)!);
  expect(regenerated).toContain("⏳ Regenerating…");
  expect(regenerated.some((t) => t.startsWith("⚠️") || t.includes("try again"))).toBe(false);
  expect((await new ConversationMemory(h.redis, h.keys, 3600).turns(e.request.conversationKey)).map((t) => t.text)).toEqual([
    "are you there?",
    e2.result.text,
  ]);
});

it("an /ask whose workers were not signalled gets no private refusal and is answered", async () => {
  const ask = sim.interaction({ type: 2, name: "ask", options: { prompt: "hello?" }, channelId: ASK_CHANNEL, user: ALICE });
  const e = await generated(`discord-${ask.id}`);
  expect(ask.responses().filter((r) => r.ephemeral)).toEqual([]);
  const reply = sim.message(e.request.reply.messageId)!;
  expect(shown(reply).some((t) => t.startsWith("⚠️"))).toBe(false);
});
