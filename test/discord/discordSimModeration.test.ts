/**
 * The Discord simulator's moderation cases, driven by the real discord.js client: a moderator
 * deleting the bot's message (MESSAGE_DELETE, then 404 10008 on edits), bulk deletes (by a
 * moderator and by the bot), and channels where the bot may not send or not even view.
 */
import { Client, Events, GatewayIntentBits, type Message, Partials, type TextChannel } from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { DiscordSimulator, Permission } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
const QUIET = "300000000000000002";
const HIDDEN = "300000000000000003";
const ALICE = { id: "500000000000000001", username: "alice" };

let sim: DiscordSimulator | undefined;
let client: Client | undefined;

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await sim?.stop();
  sim = undefined;
});

async function setup(): Promise<{ sim: DiscordSimulator; client: Client; raw: Array<{ t: string; d: Record<string, unknown> }> }> {
  sim = await DiscordSimulator.start({ botUserId: BOT });
  sim.addGuild({
    id: GUILD,
    name: "G",
    channels: [
      { id: GENERAL, name: "general", type: 0 },
      {
        id: QUIET,
        name: "read-only",
        type: 0,
        permission_overwrites: [{ id: BOT, type: 1, allow: "0", deny: String(Permission.SendMessages) }],
      },
      {
        id: HIDDEN,
        name: "staff",
        type: 0,
        permission_overwrites: [{ id: GUILD, type: 0, allow: "0", deny: String(Permission.ViewChannel) }],
      },
    ],
    members: [{ user: ALICE }],
  });
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel, Partials.Message],
    rest: { api: sim.apiBase },
  });
  const raw: Array<{ t: string; d: Record<string, unknown> }> = [];
  client.on(Events.Raw, (p: { t?: string; d?: Record<string, unknown> }) => {
    if (p.t) raw.push({ t: p.t, d: p.d ?? {} });
  });
  const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
  await client.login("fake-token-for-sim");
  await ready;
  return { sim, client, raw };
}

describe("moderation in the Discord simulator", () => {
  it("a moderator deletes the bot's message: MESSAGE_DELETE reaches the bot, later edits and fetches get 404 10008", async () => {
    const { sim, client } = await setup();
    const general = client.channels.cache.get(GENERAL) as TextChannel;
    const reply = await general.send({ content: "streaming…" });
    const deleted = new Promise<Message | { id: string }>((resolve) => client.once(Events.MessageDelete, (m) => resolve(m)));
    sim.moderatorDeletes(reply.id);
    expect((await deleted).id).toBe(reply.id);
    expect(sim.message(reply.id)?.deleted).toBe(true);
    expect(sim.messages(GENERAL)).toEqual([]);
    await expect(reply.edit({ content: "more tokens" })).rejects.toMatchObject({ status: 404, code: 10008, message: "Unknown Message" });
    await expect(general.messages.fetch({ message: reply.id, force: true })).rejects.toMatchObject({ code: 10008 });
    expect(sim.history(reply.id).map((v) => v.kind)).toEqual(["create"]);
  });

  it("bulk deletes: by a moderator (MESSAGE_DELETE_BULK) and by the bot (needs Manage Messages, 2–100 ids)", async () => {
    const { sim, client, raw } = await setup();
    const general = client.channels.cache.get(GENERAL) as TextChannel;
    const sent = [await general.send("a"), await general.send("b"), await general.send("c")];
    const bulk = new Promise<string[]>((resolve) => client.once(Events.MessageBulkDelete, (ms) => resolve([...ms.keys()])));
    sim.moderatorBulkDeletes(GENERAL, [sent[0]!.id, sent[1]!.id]);
    expect((await bulk).sort()).toEqual([sent[0]!.id, sent[1]!.id].sort());
    expect(raw.find((p) => p.t === "MESSAGE_DELETE_BULK")?.d).toMatchObject({ channel_id: GENERAL, guild_id: GUILD });
    await expect(sent[1]!.edit("x")).rejects.toMatchObject({ code: 10008 });
    expect(sim.messages(GENERAL).map((m) => m.content)).toEqual(["c"]);

    // the bot without Manage Messages is refused
    const more = [await general.send("d"), await general.send("e")];
    await expect(general.bulkDelete(more.map((m) => m.id))).rejects.toMatchObject({ status: 403, code: 50013 });
    sim.setChannelOverwrite(GENERAL, { id: BOT, type: 1, allow: Permission.ManageMessages });
    await general.bulkDelete(more.map((m) => m.id));
    expect(sim.messages(GENERAL).map((m) => m.content)).toEqual(["c"]);
    // one id is not a bulk delete on Discord
    const raw1 = await fetch(`${sim.apiBase}/v10/channels/${GENERAL}/messages/bulk-delete`, {
      method: "POST",
      headers: { Authorization: "Bot t", "Content-Type": "application/json" },
      body: JSON.stringify({ messages: [sent[2]!.id] }),
    });
    expect(raw1.status).toBe(400);
    expect(((await raw1.json()) as { code: number }).code).toBe(50016);
  });

  it("a mention where the bot may not send arrives and the reply is refused 50013; where it may not view, nothing arrives and sends get 50001", async () => {
    const { sim, client, raw } = await setup();
    const arrived = new Promise<Message>((resolve) => client.once(Events.MessageCreate, (m) => resolve(m)));
    const q = sim.userSays({ channelId: QUIET, author: ALICE, content: "help?", mentionsBot: true });
    const m = await arrived;
    expect(m.id).toBe(q.id);
    expect(m.content).toContain("help?");
    await expect(m.reply({ content: "sure" })).rejects.toMatchObject({ status: 403, code: 50013, message: "Missing Permissions" });
    await expect((m.channel as TextChannel).sendTyping()).rejects.toMatchObject({ code: 50013 });

    const hidden = sim.userSays({ channelId: HIDDEN, author: ALICE, content: "secret", mentionsBot: true });
    const visible = sim.userSays({ channelId: GENERAL, author: ALICE, content: "public", mentionsBot: true });
    await sim.waitFor(() => raw.some((p) => p.t === "MESSAGE_CREATE" && p.d.id === visible.id), 5000, "the visible message");
    expect(raw.some((p) => p.d.id === hidden.id)).toBe(false);
    expect(sim.dispatches.some((d) => (d.d as { id?: string }).id === hidden.id)).toBe(false);
    const staff = client.channels.cache.get(HIDDEN) as TextChannel;
    await expect(staff.send("hello")).rejects.toMatchObject({ status: 403, code: 50001, message: "Missing Access" });
    expect(sim.messages(QUIET).filter((x) => x.authorId === BOT)).toEqual([]);
  });
});
