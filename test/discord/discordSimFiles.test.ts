/**
 * Message references and attachments in the Discord simulator, with the real discord.js client:
 * replies carrying `message_reference` / `referenced_message` (deleted, omitted, not readable),
 * user attachments served by the simulator's CDN with download faults, and the bot's own uploads
 * (multipart `files[n]` + `payload_json`), edits that replace attachments, and the size limit.
 */
import {
  AttachmentBuilder,
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  type Message,
  Partials,
  type TextChannel,
} from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { DiscordSimulator, Permission, SampleFiles } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
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

async function setup(opts: { allowedPrivilegedIntents?: number; attachmentSizeLimit?: number } = {}) {
  sim = await DiscordSimulator.start({ botUserId: BOT, ...opts });
  sim.addGuild({ id: GUILD, name: "G", channels: [{ id: GENERAL, name: "general", type: 0 }], members: [{ user: ALICE }, { user: BOB }] });
  client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    partials: [Partials.Channel],
    rest: { api: sim.apiBase },
  });
  const raw: Array<{ t: string; d: Record<string, unknown> }> = [];
  client.on(Events.Raw, (p: { t?: string; d?: Record<string, unknown> }) => {
    if (p.t) raw.push({ t: p.t, d: p.d ?? {} });
  });
  const ready = new Promise<void>((resolve) => client!.once(Events.ClientReady, () => resolve()));
  await client.login("fake-token-for-sim");
  await ready;
  return { sim, client, raw, general: client.channels.cache.get(GENERAL) as TextChannel };
}

function nextMessage(c: Client, pred: (m: Message) => boolean): Promise<Message> {
  return new Promise((resolve) => {
    const on = (m: Message) => {
      if (!pred(m)) return;
      c.off(Events.MessageCreate, on);
      resolve(m);
    };
    c.on(Events.MessageCreate, on);
  });
}

describe("message references", () => {
  it("a reply carries message_reference and referenced_message (blanked without Message Content); GET returns the text", async () => {
    const { sim, client, raw, general } = await setup();
    const original = sim.userSays({ channelId: GENERAL, author: ALICE, content: "the secret word is plum" });
    const arrives = nextMessage(client, (m) => m.author.id === BOB.id);
    const reply = sim.userSays({
      channelId: GENERAL,
      author: BOB,
      content: "what is the secret word?",
      mentionsBot: true,
      messageReference: { messageId: original.id },
    });
    const m = await arrives;
    expect(m.reference?.messageId).toBe(original.id);
    expect(m.type).toBe(19);
    const event = raw.find((p) => p.t === "MESSAGE_CREATE" && p.d.id === reply.id)!.d;
    expect(event.message_reference).toMatchObject({ type: 0, message_id: original.id, channel_id: GENERAL, guild_id: GUILD });
    // the bot is not mentioned in the referenced message and has no Message Content intent
    expect(event.referenced_message).toMatchObject({ id: original.id, content: "" });
    // REST: the app has Message Content enabled in the portal (the simulator's default)
    const fetched = await general.messages.fetch({ message: original.id, force: true });
    expect(fetched.content).toBe("the secret word is plum");
    expect(fetched.author.id).toBe(ALICE.id);
  });

  it("referenced_message null when deleted, omitted on request; GET gives 404 10008 when deleted, 403 50001 without Read Message History", async () => {
    const { sim, raw, general } = await setup();
    const gone = sim.userSays({ channelId: GENERAL, author: ALICE, content: "soon gone" });
    sim.moderatorDeletes(gone.id);
    const toGone = sim.userSays({
      channelId: GENERAL,
      author: BOB,
      content: "what did it say?",
      mentionsBot: true,
      messageReference: { messageId: gone.id },
    });
    const kept = sim.userSays({ channelId: GENERAL, author: ALICE, content: "still here" });
    const omitted = sim.userSays({
      channelId: GENERAL,
      author: BOB,
      content: "and this?",
      mentionsBot: true,
      messageReference: { messageId: kept.id, referencedMessage: "omit" },
    });
    await sim.waitFor(() => raw.some((p) => p.d.id === omitted.id), 5000, "the replies");
    const ev = (id: string) => raw.find((p) => p.t === "MESSAGE_CREATE" && p.d.id === id)!.d;
    expect(ev(toGone.id).referenced_message).toBeNull();
    expect("referenced_message" in ev(omitted.id)).toBe(false);
    expect(ev(omitted.id).message_reference).toMatchObject({ message_id: kept.id });
    await expect(general.messages.fetch({ message: gone.id, force: true })).rejects.toMatchObject({ status: 404, code: 10008 });
    sim.setChannelOverwrite(GENERAL, { id: BOT, type: 1, deny: Permission.ReadMessageHistory });
    await expect(general.messages.fetch({ message: kept.id, force: true })).rejects.toMatchObject({ status: 403, code: 50001 });
  });

  it("an app without Message Content access gets blank content over REST too, except mentions and its own messages", async () => {
    const { sim, general } = await setup({ allowedPrivilegedIntents: 0 });
    const plain = sim.userSays({ channelId: GENERAL, author: ALICE, content: "no mention here" });
    const mention = sim.userSays({ channelId: GENERAL, author: ALICE, content: "hey bot", mentionsBot: true });
    const own = await general.send("mine");
    expect((await general.messages.fetch({ message: plain.id, force: true })).content).toBe("");
    expect((await general.messages.fetch({ message: mention.id, force: true })).content).toBe(`<@${BOT}> hey bot`);
    expect((await general.messages.fetch({ message: own.id, force: true })).content).toBe("mine");
  });
});

describe("user attachments on the simulator's CDN", () => {
  it("serves the bytes with Discord's fields; binary with a text extension and invalid UTF-8 as given; a huge file lazily", async () => {
    const { sim, client } = await setup();
    const arrives = nextMessage(client, (m) => m.author.id === ALICE.id);
    sim.userSays({
      channelId: GENERAL,
      author: ALICE,
      content: "read these",
      mentionsBot: true,
      attachments: [
        { filename: "notes.md", data: "# Notes\nplum" },
        { filename: "data.txt", data: SampleFiles.binary(300) },
        { filename: "latin1.txt", data: SampleFiles.invalidUtf8() },
        { filename: "big.log", generate: { size: 30 * 1024 * 1024, fill: "log line\n" } },
      ],
    });
    const m = await arrives;
    const [md, bin, bad, big] = [...m.attachments.values()];
    expect(md).toMatchObject({ name: "notes.md", size: 12, contentType: "text/markdown; charset=utf-8" });
    expect(md!.url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/cdn\/attachments\/300000000000000001\/\d+\/notes\.md\?ex=[0-9a-f]+&is=[0-9a-f]+&hm=[0-9a-f]+&$/,
    );
    const res = await fetch(md!.url);
    expect(res.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
    expect(await res.text()).toBe("# Notes\nplum");
    expect((await fetch(md!.proxyURL)).status).toBe(200);

    expect(bin!.contentType).toBe("text/plain; charset=utf-8");
    expect(Buffer.from(await (await fetch(bin!.url)).arrayBuffer())).toEqual(Buffer.from(SampleFiles.binary(300)));
    const badBytes = Buffer.from(await (await fetch(bad!.url)).arrayBuffer());
    expect(() => new TextDecoder("utf-8", { fatal: true }).decode(badBytes)).toThrow();
    expect(sim.attachmentData(bad!.id)).toEqual(badBytes);

    expect(big!.size).toBe(30 * 1024 * 1024);
    const head = await fetch(big!.url, { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe(String(30 * 1024 * 1024));
    const reader = (await fetch(big!.url)).body!.getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value!).toString("utf8").startsWith("log line\nlog line\n")).toBe(true);
    await reader.cancel();
    expect(sim.attachmentData(big!.id)).toBeUndefined();
  });

  it("download faults: 404, hang, stall, slow, reset — also set after the message was posted", async () => {
    const { sim, client } = await setup();
    const arrives = nextMessage(client, (m) => m.author.id === ALICE.id);
    sim.userSays({
      channelId: GENERAL,
      author: ALICE,
      content: "files",
      mentionsBot: true,
      attachments: [
        { filename: "gone.txt", data: "x", fault: { kind: "status", status: 404 } },
        { filename: "hang.txt", data: "x", fault: { kind: "hang" } },
        { filename: "stall.txt", data: "0123456789", fault: { kind: "stall", afterBytes: 4 } },
        { filename: "slow.txt", data: "s".repeat(200), fault: { kind: "slow", bytesPerSec: 1000 } },
        { filename: "fine.txt", data: "ok" },
      ],
    });
    const [gone, hang, stall, slow, fine] = [...(await arrives).attachments.values()];
    const notThere = await fetch(gone!.url);
    expect(notThere.status).toBe(404);
    expect(await notThere.text()).toBe("This content is no longer available.");
    await expect(fetch(hang!.url, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    const stalled = await fetch(stall!.url, { signal: AbortSignal.timeout(500) });
    expect(stalled.headers.get("content-length")).toBe("10");
    await expect(stalled.text()).rejects.toThrow();
    expect(await (await fetch(slow!.url)).text()).toBe("s".repeat(200));
    sim.setAttachmentFault(fine!.url, { kind: "reset" });
    await expect(fetch(fine!.url)).rejects.toThrow();
    sim.setAttachmentFault(fine!.id, null);
    expect(await (await fetch(fine!.url)).text()).toBe("ok");
    expect(sim.cdnRequests.map((r) => [r.fault, r.status])).toEqual([
      ["status", 404],
      ["hang", 0],
      ["stall", 200],
      ["slow", 200],
      ["reset", 0],
      [null, 200],
    ]);
  });
});

describe("the bot's uploads", () => {
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from("IHDR"),
    Buffer.from([0, 0, 2, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0]),
  ]);

  it("multipart create with files[n] + payload_json; edits replace or keep attachments; bytes read back", async () => {
    const { sim, general } = await setup();
    const m = await general.send({
      content: "step 1/20",
      files: [new AttachmentBuilder(png, { name: "preview.png", description: "a preview" })],
    });
    const first = [...m.attachments.values()][0]!;
    expect(first).toMatchObject({
      name: "preview.png",
      description: "a preview",
      contentType: "image/png",
      width: 512,
      height: 256,
      size: png.length,
    });
    const post = sim.requests.find((r) => r.method === "POST" && r.path === `/channels/${GENERAL}/messages`)!;
    expect(post.body).toMatchObject({
      attachments: [{ id: "0", description: "a preview" }],
      files: [{ name: "files[0]", filename: "preview.png" }],
    });
    expect(sim.attachmentData(first.id)).toEqual(png);
    expect(Buffer.from(await (await fetch(first.url)).arrayBuffer())).toEqual(png);

    // an edit with new files (discord.js sends only the new ones in `attachments`) replaces the old
    const final = Buffer.concat([png, Buffer.from("final")]);
    const edited = await m.edit({ content: "done", files: [new AttachmentBuilder(final, { name: "final.png" })] });
    expect([...edited.attachments.values()].map((a) => a.name)).toEqual(["final.png"]);
    const rec = sim.message(m.id)!;
    expect((rec.attachments as Array<{ filename: string }>).map((a) => a.filename)).toEqual(["final.png"]);
    expect(sim.attachmentData((rec.attachments as Array<{ id: string }>)[0]!.id)).toEqual(final);

    // keeping the existing attachment and adding one
    const kept = await edited.edit({
      attachments: [...edited.attachments.values()],
      files: [new AttachmentBuilder(Buffer.from("log"), { name: "seed.txt" })],
    });
    expect([...kept.attachments.values()].map((a) => a.name)).toEqual(["final.png", "seed.txt"]);
    // removing all
    const bare = await kept.edit({ attachments: [] });
    expect(bare.attachments.size).toBe(0);
    expect(sim.uploads.map((u) => u.filename)).toEqual(["preview.png", "final.png", "seed.txt"]);
    expect(sim.history(m.id)).toHaveLength(4);
  });

  it("files over the size limit are refused 413 40005; interaction responses upload files too", async () => {
    const { sim, client, general } = await setup({ attachmentSizeLimit: 1000 });
    await expect(general.send({ files: [new AttachmentBuilder(Buffer.alloc(1001), { name: "big.png" })] })).rejects.toMatchObject({
      status: 413,
      code: 40005,
      message: "Request entity too large",
    });
    expect(sim.messages(GENERAL)).toEqual([]);
    sim.setChannelOverwrite(GENERAL, { id: BOT, type: 1, deny: Permission.AttachFiles });
    await expect(general.send({ files: [new AttachmentBuilder(Buffer.alloc(10), { name: "a.bin" })] })).rejects.toMatchObject({
      code: 50013,
    });

    client.on(Events.InteractionCreate, (i: Interaction) => {
      if (i.isChatInputCommand()) void i.reply({ content: "here", files: [new AttachmentBuilder(png, { name: "image.png" })] });
    });
    const imagine = sim.interaction({ type: 2, name: "imagine", options: { prompt: "a cat" }, channelId: GENERAL, user: ALICE });
    await imagine.waitForResponse();
    expect(imagine.payload.attachment_size_limit).toBe(1000);
    const original = imagine.original()!;
    expect((original.attachments as Array<{ filename: string; width: number }>)[0]).toMatchObject({ filename: "image.png", width: 512 });
    expect(sim.uploads.at(-1)).toMatchObject({ messageId: original.id, filename: "image.png", size: png.length });
  });
});
