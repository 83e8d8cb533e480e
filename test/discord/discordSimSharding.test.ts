/**
 * Gateway sharding in the Discord simulator, with the real discord.js client: GET /gateway/bot's
 * recommended `shards`, IDENTIFY with `shard: [id, count]`, guilds assigned by
 * `(guild_id >> 22) % count` (READY, GUILD_CREATE and every guild event only on that shard's
 * connection, DMs on shard 0), two clients splitting the guilds, invalid shard configs closed with
 * 4010 / 4011, and max_concurrency.
 */
import { Client, Events, GatewayIntentBits, type Interaction, type Message, Partials } from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { DiscordSimulator } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const G0 = (1000n << 22n).toString(); // shard 0 of 2
const G1 = (1001n << 22n).toString(); // shard 1 of 2
const C0 = "300000000000000001";
const C1 = "300000000000000002";
const DM = "400000000000000001";
const ALICE = { id: "500000000000000001", username: "alice" };

let sim: DiscordSimulator | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.destroy();
  await sim?.stop();
  sim = undefined;
});

async function start(opts: Parameters<typeof DiscordSimulator.start>[0] = {}): Promise<DiscordSimulator> {
  sim = await DiscordSimulator.start({ botUserId: BOT, recommendedShards: 2, maxConcurrency: 2, ...opts });
  sim.addGuild({ id: G0, name: "zero", channels: [{ id: C0, name: "general", type: 0 }], members: [{ user: ALICE }] });
  sim.addGuild({ id: G1, name: "one", channels: [{ id: C1, name: "general", type: 0 }], members: [{ user: ALICE }] });
  sim.addDmChannel({ id: DM, user: ALICE });
  return sim;
}

async function login(s: DiscordSimulator, shards: number[] | "auto", shardCount?: number): Promise<{ client: Client; seen: string[] }> {
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel],
    rest: { api: s.apiBase },
    shards,
    ...(shardCount ? { shardCount } : {}),
  });
  clients.push(client);
  const seen: string[] = [];
  client.on(Events.MessageCreate, (m: Message) => {
    if (m.author.id === ALICE.id) seen.push(m.id);
  });
  client.on(Events.InteractionCreate, (i: Interaction) => seen.push(i.id));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login("fake-token-for-sim");
  await ready;
  return { client, seen };
}

/** Connects a raw socket, sends IDENTIFY with `shard`, resolves with the close code or the first dispatch/op. */
function rawIdentify(
  s: DiscordSimulator,
  shard: [number, number],
): Promise<{ close?: number; op?: number; t?: string | null; d?: unknown }> {
  const ws = new WebSocket(`${s.gatewayUrl}?v=10&encoding=json`);
  return new Promise((resolve) => {
    ws.on("message", (data: Buffer) => {
      const p = JSON.parse(data.toString()) as { op: number; t: string | null; d: unknown };
      if (p.op === 10) ws.send(JSON.stringify({ op: 2, d: { token: "t", intents: 513, properties: {}, shard } }));
      else {
        resolve({ op: p.op, t: p.t, d: p.d });
        ws.close(1000);
      }
    });
    ws.on("close", (code) => resolve({ close: code }));
  });
}

describe("sharding in the Discord simulator", () => {
  it("two clients (shard 0 and shard 1 of 2) split the guilds; each guild's events reach only its shard, DMs shard 0", async () => {
    const s = await start();
    expect(DiscordSimulator.shardOf(G0, 2)).toBe(0);
    expect(DiscordSimulator.shardOf(G1, 2)).toBe(1);
    const a = await login(s, [0], 2);
    const b = await login(s, [1], 2);
    expect(s.identifies.map((i) => i.shard)).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect([...a.client.guilds.cache.keys()]).toEqual([G0]);
    expect([...b.client.guilds.cache.keys()]).toEqual([G1]);
    const ready = s.dispatches.filter((d) => d.t === "READY").map((d) => d.d as { guilds: Array<{ id: string }>; shard: number[] });
    expect(ready.map((r) => [r.shard, r.guilds.map((g) => g.id)])).toEqual([
      [[0, 2], [G0]],
      [[1, 2], [G1]],
    ]);

    const m0 = s.userSays({ channelId: C0, author: ALICE, content: "zero", mentionsBot: true });
    const m1 = s.userSays({ channelId: C1, author: ALICE, content: "one", mentionsBot: true });
    const dm = s.userSays({ channelId: DM, author: ALICE, content: "private" });
    const i1 = s.interaction({ type: 2, name: "ask", channelId: C1, user: ALICE });
    await s.waitFor(() => a.seen.length === 2 && b.seen.length === 2, 5000, "every event on its shard");
    expect(a.seen).toEqual([m0.id, dm.id]);
    expect(b.seen).toEqual([m1.id, i1.id]);
    const perSession = (id: string) => s.dispatches.filter((d) => (d.d as { id?: string }).id === id).length;
    expect([perSession(m0.id), perSession(m1.id), perSession(dm.id), perSession(i1.id)]).toEqual([1, 1, 1, 1]);

    // a guild added later arrives on its shard only
    const G3 = (1003n << 22n).toString(); // shard 1
    s.addGuild({ id: G3, name: "three", channels: [{ id: "300000000000000003", name: "general", type: 0 }] });
    await s.waitFor(() => b.client.guilds.cache.has(G3), 5000, "GUILD_CREATE on shard 1");
    expect(a.client.guilds.cache.has(G3)).toBe(false);

    // dropping shard 1 only: it resumes and gets what it missed; shard 0 is untouched
    s.dropConnection(4000, 1);
    const missed = s.userSays({ channelId: C1, author: ALICE, content: "while down", mentionsBot: true });
    await s.waitFor(() => b.seen.includes(missed.id), 5000, "the replay on shard 1");
    expect(s.resumes).toHaveLength(1);
    expect(s.liveShards).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect(s.sessionStartLimit).toMatchObject({ total: 1000, remaining: 998, max_concurrency: 2 });
  });

  it("GET /gateway/bot recommends the shard count; shards: 'auto' starts that many in one client", async () => {
    const s = await start({ recommendedShards: 2 });
    const res = await fetch(`${s.apiBase}/v10/gateway/bot`, { headers: { Authorization: "Bot t" } });
    expect(await res.json()).toMatchObject({ shards: 2, session_start_limit: { max_concurrency: 2, remaining: 1000 } });
    const { client, seen } = await login(s, "auto");
    expect(s.identifies.map((i) => i.shard).sort((x, y) => (x?.[0] ?? 0) - (y?.[0] ?? 0))).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect([...client.guilds.cache.keys()].sort()).toEqual([G0, G1].sort());
    const m1 = s.userSays({ channelId: C1, author: ALICE, content: "one", mentionsBot: true });
    await s.waitFor(() => seen.includes(m1.id), 5000, "the message via shard 1");
    expect(client.guilds.cache.get(G1)?.shardId).toBe(1);
  });

  it("refuses invalid shard configs with 4010, too many guilds per shard with 4011, and IDENTIFY over max_concurrency with op 9", async () => {
    const s = await start({ maxGuildsPerShard: 1, maxConcurrency: 1, enforceMaxConcurrency: true });
    expect(await rawIdentify(s, [2, 2])).toEqual({ close: 4010 });
    expect(await rawIdentify(s, [0, 0])).toEqual({ close: 4010 });
    expect(await rawIdentify(s, [0, 1])).toEqual({ close: 4011 }); // both guilds on one shard, limit 1
    expect(await rawIdentify(s, [0, 2])).toMatchObject({ op: 0, t: "READY" });
    // same bucket (shard id % 1) within 5 s → INVALID_SESSION, no session
    expect(await rawIdentify(s, [1, 2])).toEqual({ op: 9, t: null, d: false });
    expect(s.refusedIdentifies.map((r) => r.reason)).toEqual([4010, 4010, 4011, "max_concurrency"]);
    expect(s.identifies).toHaveLength(1);
  });
});
