/**
 * The adapter's and the workers' REST clients share Discord's rate-limit state through Redis
 * (issue 12): a bucket one client learned is exhausted (from X-RateLimit-Remaining, or a 429) is
 * not run into by another — a second worker's sink says "wait" before sending, and the adapter's
 * placeholder waits for the window instead of taking a 429. Real discord.js clients against the
 * simulator; without the sharing each client would learn the limit only from its own 429.
 */
import { randomUUID } from "node:crypto";
import { Client, Events, GatewayIntentBits, Partials, Routes } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiscordApi } from "../../adapters/discord/DiscordApi.ts";
import { createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { DiscordRateLimits } from "../../adapters/discord/discordRateLimits.ts";
import { PlatformRateLimitedError } from "../../src/errors.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { SharedRateLimits } from "../../src/stream/SharedRateLimits.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { REDIS_URL } from "../helpers/harness.ts";
import { DiscordSimulator } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const EDITS = "300000000000000001";
const POSTS = "300000000000000002";
const logger = createLogger({ level: "silent" });
const redis = createRedis(REDIS_URL, "worker");
const keys = new Keys(`qbt-limits-${randomUUID().slice(0, 8)}`);
const config = { DISCORD_TOKEN: "fake-token-for-sim", DISCORD_API_URL: "" };
let sim: DiscordSimulator;
let client: Client;

beforeAll(async () => {
  sim = await DiscordSimulator.start({ botUserId: BOT });
  sim.addGuild({
    id: GUILD,
    name: "G",
    channels: [
      { id: EDITS, name: "edits", type: 0 },
      { id: POSTS, name: "posts", type: 0 },
    ],
  });
  config.DISCORD_API_URL = sim.apiBase;
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages],
    partials: [Partials.Channel],
    rest: { api: sim.apiBase },
  });
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(config.DISCORD_TOKEN);
  await ready;
});

afterAll(async () => {
  await client?.destroy();
  await sim?.stop();
  const all = await redis.keys(`${keys.prefix}:*`);
  if (all.length) await redis.del(...all);
  redis.disconnect();
});

const real429s = (path: RegExp) => sim.requests.filter((r) => path.test(r.path) && r.status === 429 && !r.scripted);

describe("shared rate limits", () => {
  it("a second worker's sink waits for a channel's edit window another worker used up, without a 429", async () => {
    const editRoute = new RegExp(`^/channels/${EDITS}/messages/\\d+$`);
    sim.setRouteLimit(editRoute, { limit: 3, windowMs: 3000, method: "PATCH" });
    const posted = (await client.rest.post(Routes.channelMessages(EDITS), { body: { content: "⏳" } })) as { id: string };
    const target: ReplyTarget = { platform: "discord", channelId: EDITS, messageId: posted.id, requestId: "discord-x" };
    const a = createDiscordSink(config, logger, { redis, keys });
    const b = createDiscordSink(config, logger, { redis, keys });
    for (let i = 0; i < 3; i++) await a.edit(target, `text ${i}`, { final: false });
    // B has never talked to Discord: only the shared state can tell it the window is spent.
    const err = await b.edit(target, "from b", { final: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformRateLimitedError);
    expect((err as PlatformRateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect(real429s(editRoute)).toEqual([]);
    // A place-in-line update leaves the last edit of a window to the streaming replies.
    const c = createDiscordSink(config, logger, { redis, keys });
    await new Promise((r) => setTimeout(r, (err as PlatformRateLimitedError).retryAfterMs + 50));
    await c.edit(target, "streamed", { final: false });
    await c.edit(target, "streamed more", { final: false });
    await expect(c.queued(target, 3)).rejects.toBeInstanceOf(PlatformRateLimitedError);
    await c.edit(target, "the last one of the window", { final: false });
    expect(real429s(editRoute)).toEqual([]);
  });

  it("the adapter's placeholder waits for a create window the worker used up, instead of taking a 429", async () => {
    const createRoute = new RegExp(`^/channels/${POSTS}/messages$`);
    sim.setRouteLimit(createRoute, { limit: 2, windowMs: 2000, method: "POST" });
    const sink = createDiscordSink(config, logger, { redis, keys });
    const first = (await client.rest.post(Routes.channelMessages(POSTS), { body: { content: "x" } })) as { id: string };
    // The worker posts a follow-up: the channel's window is now spent (its answer said remaining 0).
    await sink.post({ platform: "discord", channelId: POSTS, messageId: first.id, requestId: "discord-y" }, "more", {
      final: true,
      part: 1,
    });
    const limits = new DiscordRateLimits(new SharedRateLimits(redis, keys));
    const api = new DiscordApi(client, logger, limits);
    // The adapter's own REST client saw remaining 1 after its first post: only the shared state knows better.
    const placeholder = await api.postPlaceholder(POSTS, "⏳ Thinking…", "discord-z");
    expect(sim.message(placeholder.id)?.content).toBe("⏳ Thinking…");
    expect(real429s(createRoute)).toEqual([]);
  });
});
