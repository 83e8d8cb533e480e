/**
 * The Discord simulator against the real discord.js 14 client: login, mentions, replies and edits,
 * scripted 429s, gateway drop and resume with replay, interactions.
 */

import zlib from "node:zlib";
import {
  ActionRowBuilder,
  ButtonBuilder,
  type ButtonInteraction,
  ButtonStyle,
  type ChatInputCommandInteraction,
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  type Message,
  MessageFlags,
  Partials,
  type TextChannel,
} from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { DiscordSimulator, Permission } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
const THREAD = "300000000000000009";
const DM = "400000000000000001";
const ALICE = { id: "500000000000000001", username: "alice" };
const BOB = { id: "500000000000000002", username: "bob" };

let sim: DiscordSimulator | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await sim?.stop();
  sim = undefined;
});

async function setup(opts: { heartbeatIntervalMs?: number } = {}): Promise<{ sim: DiscordSimulator; client: Client }> {
  sim = await DiscordSimulator.start({ botUserId: BOT, ...opts });
  sim.addGuild({
    id: GUILD,
    name: "Test Guild",
    channels: [{ id: GENERAL, name: "general", type: 0 }],
    threads: [{ id: THREAD, name: "a thread", parent_id: GENERAL }],
    members: [{ user: ALICE }],
  });
  sim.addDmChannel({ id: DM, user: ALICE });
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel],
    rest: { api: sim.apiBase },
  });
  const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
  await client.login("fake-token-for-sim");
  await ready;
  return { sim, client };
}

function nextMessage(c: Client, pred: (m: Message) => boolean = () => true): Promise<Message> {
  return new Promise((resolve) => {
    const on = (m: Message) => {
      if (!pred(m)) return;
      c.off(Events.MessageCreate, on);
      resolve(m);
    };
    c.on(Events.MessageCreate, on);
  });
}

describe("DiscordSimulator with the real discord.js client", () => {
  it("logs in: gateway/bot, IDENTIFY without Message Content, READY and GUILD_CREATE fill the caches", async () => {
    const { sim, client } = await setup();
    expect(client.user?.id).toBe(BOT);
    expect(client.user?.bot).toBe(true);
    expect(client.application?.id).toBe(BOT);
    expect(client.guilds.cache.get(GUILD)?.name).toBe("Test Guild");
    expect(client.channels.cache.get(GENERAL)?.isTextBased()).toBe(true);
    expect(client.channels.cache.get(THREAD)?.isThread()).toBe(true);
    expect(client.guilds.cache.get(GUILD)?.members.me?.id).toBe(BOT);

    expect(sim.requests.some((r) => r.method === "GET" && r.path === "/gateway/bot" && r.status === 200)).toBe(true);
    expect(sim.requests.find((r) => r.path === "/gateway/bot")?.auth).toBe("Bot fake-token-for-sim");
    expect(sim.identifies).toHaveLength(1);
    const intents = sim.identifies[0]!.intents;
    expect(intents & (1 << 15)).toBe(0); // no Message Content
    expect(intents & (1 << 9)).not.toBe(0);
    expect(sim.connections[0]?.query).toMatchObject({ v: "10", encoding: "json" });
    expect(sim.connections[0]?.query.compress).toBeUndefined();

    await client.application!.commands.set([
      { name: "ask", description: "Ask the model", options: [{ name: "prompt", description: "What to ask", type: 3, required: true }] },
      { name: "reset", description: "Forget this conversation" },
    ]);
    expect(sim.commands.map((c) => c.name)).toEqual(["ask", "reset"]);
    expect(sim.commands[0]?.id).toMatch(/^\d+$/);

    // invalid command names are refused like Discord does
    await expect(client.application!.commands.set([{ name: "Bad Name", description: "x" }])).rejects.toMatchObject({ code: 50035 });
  });

  it("delivers a mention with content, blanks an unmentioned guild message, and records reply + edit", async () => {
    const { sim, client } = await setup();
    const plainArrives = nextMessage(client, (m) => m.author.id === BOB.id);
    sim.userSays({ channelId: GENERAL, author: BOB, content: "just chatting" });
    const plain = await plainArrives;
    expect(plain.content).toBe(""); // no Message Content intent, no mention

    const arrives = nextMessage(client, (m) => m.author.id === ALICE.id);
    const sent = sim.userSays({ channelId: GENERAL, author: ALICE, content: "what is 2+2?", mentionsBot: true });
    const msg = await arrives;
    expect(msg.id).toBe(sent.id);
    expect(msg.content).toBe(`<@${BOT}> what is 2+2?`);
    expect(msg.mentions.users.has(BOT)).toBe(true);
    expect(msg.guildId).toBe(GUILD);

    const reply = await msg.reply({ content: `thinking… <@${BOB.id}>`, allowedMentions: { parse: [] } });
    expect(reply.reference?.messageId).toBe(sent.id);
    await reply.edit({ content: "4", allowedMentions: { parse: [] } });

    const recorded = sim.messages(GENERAL).find((m) => m.id === reply.id)!;
    expect(recorded.content).toBe("4");
    expect(recorded.type).toBe(19);
    expect(recorded.messageReference).toMatchObject({ message_id: sent.id, channel_id: GENERAL, guild_id: GUILD });
    expect(recorded.edits).toBe(1);
    expect(recorded.authorId).toBe(BOT);
    expect(recorded.allowedMentions).toEqual({ parse: [] });
    expect(recorded.mentionedUserIds).toEqual([]); // nobody pinged, not even the replied-to author
    expect(sim.history(reply.id).map((v) => [v.kind, v.content])).toEqual([
      ["create", `thinking… <@${BOB.id}>`],
      ["edit", "4"],
    ]);
    expect(sim.messages(GENERAL).map((m) => m.id)).toEqual([plain.id, sent.id, reply.id]);

    // a reply without allowed_mentions pings the author and parses user mentions
    const loud = await msg.reply({ content: `hey <@${BOB.id}>` });
    expect(sim.message(loud.id)?.mentionedUserIds.sort()).toEqual([ALICE.id, BOB.id].sort());

    // over 2000 characters: refused with 50035, never truncated or stored
    const general = msg.channel as TextChannel;
    await expect(general.send({ content: "x".repeat(2001) })).rejects.toMatchObject({ code: 50035, status: 400 });
    expect(sim.messages(GENERAL).some((m) => m.content.startsWith("xxx"))).toBe(false);
    expect(sim.requests.at(-1)).toMatchObject({ method: "POST", status: 400 });

    // typing
    await general.sendTyping();
    expect(sim.typing.map((t) => t.channelId)).toEqual([GENERAL]);

    // every answer carries rate-limit headers (checked on a raw request)
    const res = await fetch(`${sim.apiBase}/v10/channels/${GENERAL}`, { headers: { Authorization: "Bot fake-token-for-sim" } });
    expect(res.status).toBe(200);
    for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-reset-after", "x-ratelimit-bucket"]) {
      expect(res.headers.get(h)).not.toBeNull();
    }
  });

  it("delivers DMs and thread messages with content (no mention needed in DMs)", async () => {
    const { sim, client } = await setup();
    const dmArrives = nextMessage(client, (m) => m.channelId === DM);
    sim.userSays({ channelId: DM, author: ALICE, content: "hello in private" });
    const dm = await dmArrives;
    expect(dm.content).toBe("hello in private");
    expect(dm.guildId).toBeNull();
    const r = await dm.reply({ content: "hi", allowedMentions: { parse: [] } });
    expect(sim.messages(DM).map((m) => m.content)).toEqual(["hello in private", "hi"]);
    expect(sim.message(r.id)?.guildId).toBeNull();

    const threadArrives = nextMessage(client, (m) => m.channelId === THREAD);
    sim.userSays({ channelId: THREAD, author: ALICE, content: `<@${BOT}> in the thread` });
    const tm = await threadArrives;
    expect(tm.content).toBe(`<@${BOT}> in the thread`);
    expect(tm.channel.isThread()).toBe(true);

    // start a thread from a message
    const root = sim.userSays({ channelId: GENERAL, author: ALICE, content: "start here", mentionsBot: true });
    const rootMsg = await (client.channels.cache.get(GENERAL) as TextChannel).messages.fetch(root.id);
    const thread = await rootMsg.startThread({ name: "start here" });
    expect(thread.id).toBe(root.id);
    expect(sim.channel(thread.id)).toMatchObject({ type: 11, parent_id: GENERAL, name: "start here" });
    expect(sim.message(root.id)?.threadId).toBe(thread.id);
    await thread.send({ content: "inside", allowedMentions: { parse: [] } });
    expect(sim.messages(thread.id).map((m) => m.content)).toEqual(["inside"]);

    // permissions: a channel overwrite denying Send Messages to the bot → 403 Missing Permissions
    sim.setChannelOverwrite(GENERAL, { id: BOT, type: 1, deny: Permission.SendMessages });
    await expect(rootMsg.reply({ content: "nope", allowedMentions: { parse: [] } })).rejects.toMatchObject({ status: 403, code: 50013 });
  });

  it("a scripted 429 on the edit route is honoured after retry_after and the edit lands", async () => {
    const { sim, client } = await setup();
    const channel = client.channels.cache.get(GENERAL) as TextChannel;
    const m = await channel.send({ content: "draft", allowedMentions: { parse: [] } });
    sim.failNext({ method: "PATCH", path: /^\/channels\/\d+\/messages\/\d+$/ }, { status: 429, retryAfterSec: 0.4 });
    await m.edit({ content: "final text" });
    expect(sim.message(m.id)?.content).toBe("final text");
    const patches = sim.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => r.status)).toEqual([429, 200]);
    expect(patches[0]!.scripted).toBe(true);
    expect(sim.history(m.id).map((v) => v.content)).toEqual(["draft", "final text"]);

    // a 5xx is retried by discord.js too
    sim.failNext({ method: "PATCH", path: /\/messages\// }, { status: 502 });
    await m.edit({ content: "after 502" });
    expect(sim.message(m.id)?.content).toBe("after 502");

    // a real per-channel route limit answers 429 when exceeded (raw requests, no client-side limiter)
    sim.setRouteLimit(/^\/channels\/\d+\/messages$/, { limit: 2, windowMs: 10_000, method: "POST" });
    const post = () =>
      fetch(`${sim.apiBase}/v10/channels/${GENERAL}/messages`, {
        method: "POST",
        headers: { Authorization: "Bot fake-token-for-sim", "Content-Type": "application/json" },
        body: JSON.stringify({ content: "hi" }),
      });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    const third = await post();
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).not.toBeNull();
    expect(third.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(((await third.json()) as { retry_after: number }).retry_after).toBeGreaterThan(0);
  });

  it("after a dropped connection the client resumes and missed dispatches are replayed; a forced duplicate arrives twice", async () => {
    const { sim, client } = await setup({ heartbeatIntervalMs: 400 });
    const seen: string[] = [];
    const raw: string[] = [];
    client.on(Events.MessageCreate, (m) => {
      if (m.author.id === ALICE.id) seen.push(m.id);
    });
    client.on(Events.Raw, (p: { t?: string; d?: { id?: string } }) => {
      if (p.t === "MESSAGE_CREATE" && p.d?.id) raw.push(p.d.id);
    });
    const first = sim.userSays({ channelId: GENERAL, author: ALICE, content: "one", mentionsBot: true });
    await sim.waitFor(() => seen.includes(first.id));
    await sim.waitFor(() => sim.heartbeatCount > 0, 3000, "a heartbeat");

    sim.dropConnection(4000);
    const missed = sim.userSays({ channelId: GENERAL, author: ALICE, content: "while down", mentionsBot: true });
    await sim.waitFor(() => sim.resumes.length === 1, 5000, "RESUME");
    await sim.waitFor(() => seen.includes(missed.id), 5000, "the replayed message");
    expect(sim.resumes[0]).toMatchObject({ accepted: true, replayed: 1 });
    expect(sim.identifies).toHaveLength(1); // resumed, not re-identified
    expect(sim.connections.at(-1)?.path).toBe("/resume"); // used resume_gateway_url
    expect(sim.dispatches.some((d) => d.t === "RESUMED")).toBe(true);

    // a duplicate MESSAGE_CREATE replayed after the next resume reaches the client again
    expect(sim.replayOnNextResume(first.id)).toBe(1);
    sim.dropConnection(4000);
    await sim.waitFor(() => sim.resumes.length === 2, 5000, "second RESUME");
    await sim.waitFor(() => raw.filter((id) => id === first.id).length === 2, 5000, "the duplicate dispatch");
    expect(sim.dispatches.filter((d) => d.replay && d.t === "MESSAGE_CREATE" && (d.d as { id: string }).id === first.id)).toHaveLength(1);
    expect(raw.filter((id) => id === missed.id)).toHaveLength(1);
    // discord.js itself drops a MESSAGE_CREATE for a message still in its cache (non-bot author):
    // the duplicate only reaches messageCreate once the message has left the cache — the bot must dedupe too.
    expect(seen.filter((id) => id === first.id)).toHaveLength(1);

    // RECONNECT (op 7) also ends in a resume
    sim.sendReconnect();
    await sim.waitFor(() => sim.resumes.length === 3, 5000, "RESUME after RECONNECT");
    const after = sim.userSays({ channelId: GENERAL, author: ALICE, content: "still here", mentionsBot: true });
    await sim.waitFor(() => seen.includes(after.id), 5000, "a live message after resume");
  });

  it("resumes after a kill (no close frame) and after missed heartbeat acks; re-identifies after a non-resumable INVALID_SESSION", async () => {
    const { sim, client } = await setup({ heartbeatIntervalMs: 300 });
    let resumed = 0;
    client.on(Events.ShardResume, () => resumed++);
    sim.kill();
    await sim.waitFor(() => sim.resumes.length === 1, 5000, "RESUME after kill");
    expect(sim.resumes[0]!.accepted).toBe(true);

    sim.setHeartbeatAck(false);
    await sim.waitFor(() => sim.resumes.length === 2, 5000, "RESUME after a zombie connection");
    sim.setHeartbeatAck(true);
    expect(sim.connections.some((c) => c.closeCode === 4200)).toBe(true); // discord.js closed it to resume
    // Discord does not invalidate a session in the same instant it resumed it: wait until the
    // client has handled the RESUMED (adapters/discord/guardResumeRace.ts covers the race itself).
    await sim.waitFor(() => resumed === 2, 5000, "the client handled both RESUMED dispatches");

    sim.sendInvalidSession(false);
    await sim.waitFor(() => sim.identifies.length === 2 && sim.connected, 10_000, "a new IDENTIFY");
    const arrives = nextMessage(client, (m) => m.author.id === ALICE.id);
    const sent = sim.userSays({ channelId: GENERAL, author: ALICE, content: "after re-identify", mentionsBot: true });
    expect((await arrives).id).toBe(sent.id);
  });

  it("slash command replied ephemerally, then a button update and a deferred reply edited in place", async () => {
    const { sim, client } = await setup();
    client.on(Events.InteractionCreate, (i: Interaction) => {
      void (async () => {
        if (i.isChatInputCommand()) {
          const ci = i as ChatInputCommandInteraction;
          if (ci.commandName === "reset") {
            await ci.reply({ content: "Memory cleared.", flags: MessageFlags.Ephemeral });
          } else if (ci.commandName === "ask") {
            await ci.deferReply();
            await ci.editReply({ content: `answer to ${ci.options.getString("prompt")}`, allowedMentions: { parse: [] } });
          }
        } else if (i.isButton()) {
          const bi = i as ButtonInteraction;
          await bi.update({ content: "stopped", components: [] });
        }
      })();
    });

    const reset = sim.interaction({ type: 2, name: "reset", channelId: GENERAL, user: ALICE });
    const r = await reset.waitForResponse();
    expect(r).toMatchObject({ kind: "callback", type: 4, ephemeral: true, content: "Memory cleared.", status: 204 });
    expect(reset.original()?.ephemeral).toBe(true);
    expect(reset.original()?.visibleTo).toBe(ALICE.id);

    const ask = sim.interaction({ type: 2, name: "ask", options: { prompt: "colours" }, channelId: GENERAL, user: ALICE });
    await ask.waitForResponse((x) => x.kind === "editOriginal");
    expect(ask.responses().map((x) => [x.kind, x.type])).toEqual([
      ["callback", 5],
      ["editOriginal", null],
    ]);
    expect(ask.original()?.content).toBe("answer to colours");
    expect(ask.original()?.ephemeral).toBe(false);

    const channel = client.channels.cache.get(GENERAL) as TextChannel;
    const withButton = await channel.send({
      content: "streaming…",
      components: [
        new ActionRowBuilder<ButtonBuilder>().addComponents(
          new ButtonBuilder().setCustomId("stop:1").setLabel("Stop").setStyle(ButtonStyle.Danger),
        ),
      ],
      allowedMentions: { parse: [] },
    });
    const press = sim.interaction({ type: 3, customId: "stop:1", messageId: withButton.id, channelId: GENERAL, user: ALICE });
    await press.waitForResponse();
    expect(sim.message(withButton.id)).toMatchObject({ content: "stopped", components: [], edits: 1 });
    expect(press.responses()[0]).toMatchObject({ type: 7, messageId: withButton.id });

    // acknowledging twice is refused
    const again = await fetch(`${sim.apiBase}/v10/interactions/${reset.id}/${reset.token}/callback`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: 4, data: { content: "again" } }),
    });
    expect(again.status).toBe(400);
    expect(((await again.json()) as { code: number }).code).toBe(40060);
  });
});

describe("DiscordSimulator gateway encodings", () => {
  it("speaks zlib-stream when the URL asks for it (what discord.js does with zlib-sync installed)", async () => {
    sim = await DiscordSimulator.start({ botUserId: BOT });
    sim.addGuild({ id: GUILD, name: "G", channels: [{ id: GENERAL, name: "general", type: 0 }] });
    const ws = new WebSocket(`${sim.gatewayUrl}?v=10&encoding=json&compress=zlib-stream`);
    const inflate = zlib.createInflate();
    const payloads: Array<{ op: number; t: string | null }> = [];
    let buffered = "";
    inflate.on("data", (c: Buffer) => {
      buffered += c.toString("utf8");
    });
    ws.on("message", (data: Buffer) => {
      inflate.write(data);
      inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (!buffered) return;
        const p = JSON.parse(buffered) as { op: number; t: string | null };
        buffered = "";
        payloads.push(p);
        if (p.op === 10) ws.send(JSON.stringify({ op: 2, d: { token: "t", intents: 513, properties: {}, shard: [0, 1] } }));
      });
    });
    await sim.waitFor(() => payloads.some((p) => p.t === "GUILD_CREATE"), 5000, "GUILD_CREATE");
    expect(payloads.map((p) => p.t ?? p.op)).toEqual([10, "READY", "GUILD_CREATE"]);
    ws.close(1000);
    inflate.close();
  });

  it("refuses disallowed privileged intents with close code 4014", async () => {
    sim = await DiscordSimulator.start({ botUserId: BOT, allowedPrivilegedIntents: 0 });
    const ws = new WebSocket(`${sim.gatewayUrl}?v=10&encoding=json`);
    const code = await new Promise<number>((resolve) => {
      ws.on("message", (data: Buffer) => {
        const p = JSON.parse(data.toString()) as { op: number };
        if (p.op === 10) ws.send(JSON.stringify({ op: 2, d: { token: "t", intents: 1 << 15, properties: {} } }));
      });
      ws.on("close", (c) => resolve(c));
    });
    expect(code).toBe(4014);
  });
});
