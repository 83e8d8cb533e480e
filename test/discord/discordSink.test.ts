/**
 * The worker's Discord sink against the Discord simulator, without a model: scripted long text
 * through the real ReplyStreamer (split across messages, fences balanced, buttons moved to the
 * newest message), 429s turned into waits, no pings, messages that disappeared.
 */

import { type APIMessage, type REST, Routes } from "discord.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ACCESS_MESSAGES, checkDiscordAccess } from "../../adapters/discord/checkDiscordAccess.ts";
import { createDiscordRest, createDiscordSink, type DiscordSink, discordContent, withNote } from "../../adapters/discord/DiscordSink.ts";
import { NO_MENTIONS, parseButtonId, regenerateRow, stopRow } from "../../adapters/discord/discordComponents.ts";
import { discordConversationKey, placeholderText, threadNameFor, waitingText } from "../../adapters/discord/discordConversation.ts";
import { PlatformRateLimitedError, ReplyGoneError } from "../../src/errors.ts";
import { createLogger } from "../../src/logger.ts";
import { ReplyStreamer } from "../../src/stream/ReplyStreamer.ts";
import { splitMessage } from "../../src/text/splitMessage.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { DiscordSimulator, type MessageRecord } from "../sim/discord/DiscordSimulator.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
const ALICE = { id: "500000000000000001", username: "alice" };
const ROLE = "600000000000000001";
const logger = createLogger({ level: "silent" });
const EDIT_ROUTE = /^\/channels\/\d+\/messages\/\d+$/;

let sim: DiscordSimulator;
let rest: REST;
let sink: DiscordSink;

beforeEach(async () => {
  sim = await DiscordSimulator.start({ botUserId: BOT });
  sim.addGuild({
    id: GUILD,
    name: "G",
    channels: [{ id: GENERAL, name: "general", type: 0 }],
    members: [{ user: ALICE }],
    roles: [{ id: ROLE, name: "devs" }],
  });
  rest = createDiscordRest({ DISCORD_TOKEN: "fake-token-for-sim", DISCORD_API_URL: sim.apiBase });
  sink = createDiscordSink({ DISCORD_TOKEN: "fake-token-for-sim", DISCORD_API_URL: sim.apiBase }, logger, { rest });
});

afterEach(async () => {
  await sim.stop();
});

/** A placeholder as the adapter posts it: a reply with the Stop button. */
async function placeholder(requestId = "discord-1"): Promise<ReplyTarget> {
  const user = sim.userSays({ channelId: GENERAL, author: ALICE, content: "question", mentionsBot: true });
  const m = (await rest.post(Routes.channelMessages(GENERAL), {
    body: {
      content: placeholderText(0),
      components: [stopRow(requestId)],
      allowed_mentions: NO_MENTIONS,
      message_reference: { message_id: user.id },
    },
  })) as APIMessage;
  return { platform: "discord", channelId: GENERAL, messageId: m.id, workspaceId: GUILD, requestId };
}

/** Fences open and close in pairs within one message. */
function fencesBalanced(text: string): boolean {
  let open: string | null = null;
  for (const line of text.split("\n")) {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (!m) continue;
    if (open === null) open = m[1]!;
    else if (m[1]!.startsWith(open[0]!) && m[1]!.length >= open.length && line.trim() === m[1]) open = null;
  }
  return open === null;
}

function longText(): string {
  const prose = (n: number) =>
    Array.from(
      { length: n },
      (_, i) => `Paragraph ${i}: the quick brown fox jumps over the lazy dog, again and again, to fill the line.`,
    ).join("\n\n");
  const code = Array.from({ length: 60 }, (_, i) => `const value${i} = compute(${i}) * factor; // line ${i} of a long code block`).join(
    "\n",
  );
  return `${prose(18)}\n\n\`\`\`ts\n${code}\n\`\`\`\n\n${prose(20)}\n\nSee <@${ALICE.id}> and @everyone and <@&${ROLE}>.`;
}

function botMessages(): MessageRecord[] {
  return sim.messages(GENERAL).filter((m) => m.authorId === BOT);
}

function customIds(m: MessageRecord): string[] {
  return (m.components as Array<{ components: Array<{ custom_id: string }> }>).flatMap((r) => r.components.map((c) => c.custom_id));
}

describe("DiscordSink + ReplyStreamer against the simulator", () => {
  it("streams a reply over 5000 characters across messages: complete, fences balanced, nobody pinged, buttons on the newest", async () => {
    const target = await placeholder("discord-long");
    const text = longText();
    expect(text.length).toBeGreaterThan(5000);
    const streamer = new ReplyStreamer(sink, [target], { intervalMs: 60, logger });
    for (let n = 200; n < text.length; n += 350) {
      streamer.update(text.slice(0, n));
      await new Promise((r) => setTimeout(r, 15));
    }
    await streamer.finish(text, "reached the token limit");

    const msgs = botMessages();
    const expected = splitMessage(text, sink.maxLength - 200);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(msgs.map((m) => m.content)).toEqual([...expected.slice(0, -1), `${expected.at(-1)}\n-# reached the token limit`]);
    for (const m of msgs) {
      expect(m.content.length).toBeLessThanOrEqual(2000);
      expect(fencesBalanced(m.content)).toBe(true);
      expect(m.mentionedUserIds).toEqual([]);
      expect(m.mentionEveryone).toBe(false);
      expect(m.mentionRoleIds).toEqual([]);
    }
    // The code block was cut and reopened, never lost.
    expect(msgs.filter((m) => m.content.includes("```ts")).length).toBeGreaterThanOrEqual(2);
    // Each follow-up replies to the message before it.
    for (let i = 1; i < msgs.length; i++) expect(msgs[i]!.messageReference?.message_id).toBe(msgs[i - 1]!.id);
    // Only the last message carries a button, and it is Regenerate.
    expect(msgs.slice(0, -1).map(customIds)).toEqual(msgs.slice(0, -1).map(() => []));
    expect(customIds(msgs.at(-1)!)).toEqual(["regen:discord-long"]);
    // Every create and edit the bot sent said: no mentions.
    for (const m of msgs) for (const v of sim.history(m.id)) expect(v.allowedMentions).toMatchObject({ parse: [] });
  });

  it("a final reply that needs new messages posts them with the final buttons", async () => {
    const target = await placeholder("discord-direct");
    const text = longText();
    const streamer = new ReplyStreamer(sink, [target], { intervalMs: 60, logger });
    await streamer.finish(text);
    const msgs = botMessages();
    expect(msgs.length).toBeGreaterThanOrEqual(3);
    expect(msgs.slice(0, -1).every((m) => customIds(m).length === 0)).toBe(true);
    expect(customIds(msgs.at(-1)!)).toEqual(["regen:discord-direct"]);
  });

  it("a 429 on the edit route becomes a PlatformRateLimitedError with the wait, and the streamer's final edit still lands", async () => {
    const target = await placeholder("discord-429");
    sim.failNext({ method: "PATCH", path: EDIT_ROUTE }, { status: 429, retryAfterSec: 0.3 });
    const err = await sink.edit(target, "partial", { final: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformRateLimitedError);
    expect((err as PlatformRateLimitedError).retryAfterMs).toBeGreaterThanOrEqual(300);

    sim.failNext({ method: "PATCH", path: EDIT_ROUTE }, { status: 429, retryAfterSec: 0.25 }, 3);
    const streamer = new ReplyStreamer(sink, [target], { intervalMs: 50, logger });
    streamer.update("partial answer");
    await streamer.finish("the whole answer");
    expect(sim.message(target.messageId)?.content).toBe("the whole answer");
    const patches = sim.requests.filter((r) => r.method === "PATCH" && r.path.endsWith(target.messageId));
    expect(patches.map((r) => r.status)).toEqual([429, 429, 429, 429, 200]);
    // Each retry of the streamer waited for retry_after (recorded request times).
    for (let i = 2; i < patches.length; i++) expect(patches[i]!.time - patches[i - 1]!.time).toBeGreaterThanOrEqual(240);
    expect(streamer.rateLimited).toBeGreaterThanOrEqual(3);
  });

  it("a reply whose message was deleted throws ReplyGoneError (the reply stops; nothing is retried or posted)", async () => {
    const target = await placeholder("discord-gone");
    sim.moderatorDeletes(target.messageId);
    await expect(sink.edit(target, "answer", { final: true })).rejects.toBeInstanceOf(ReplyGoneError);
    await expect(sink.queued(target, 2)).rejects.toBeInstanceOf(ReplyGoneError);
    await expect(sink.started(target)).rejects.toBeInstanceOf(ReplyGoneError);
  });

  it("a refusal or error (a note without an answer) is shown as plain text and gets no Regenerate button", async () => {
    const target = await placeholder("discord-refused");
    await sink.edit(target, "", { final: true, last: true, note: "Stopped before it started." });
    expect(sim.message(target.messageId)).toMatchObject({ content: "Stopped before it started.", components: [] });
    await sink.edit(target, "an answer", { final: true, last: true, note: "stopped" });
    expect(sim.message(target.messageId)).toMatchObject({ content: "an answer\n-# stopped" });
    expect(customIds(sim.message(target.messageId)!)).toEqual(["regen:discord-refused"]);
  });

  it("a note never takes a message past 2000 characters: it is shortened, or left out when nothing fits", async () => {
    const target = await placeholder("discord-note-limit");
    const note = "older messages of this conversation were left out to fit the model's memory";
    await sink.edit(target, "a".repeat(1950), { final: true, last: true, note });
    const shown = sim.message(target.messageId)!.content;
    expect(shown).toHaveLength(2000);
    expect(shown).toBe(`${"a".repeat(1950)}\n-# ${note.slice(0, 45)}…`);
    const posted = await sink.post(target, "b".repeat(1999), { final: true, last: true, note });
    expect(sim.message(posted.messageId)!.content).toBe("b".repeat(1999));
  });

  it("renders notes as subtext; an empty text or a lone note is still a valid message", () => {
    expect(withNote("answer", "stopped")).toBe("answer\n-# stopped");
    expect(withNote("answer", "two\nlines")).toBe("answer\n-# two lines");
    expect(withNote("answer", undefined)).toBe("answer");
    expect(discordContent("answer\n-# stopped")).toBe("answer\n-# stopped");
    expect(discordContent("\n-# Stopped before it started.")).toBe("Stopped before it started.");
    expect(discordContent("   ")).toBe("…");
  });
});

describe("Discord adapter building blocks", () => {
  it("conversation keys carry the guild, the parent channel of a thread, or dm", () => {
    expect(discordConversationKey({ guildId: "g1", channelId: "c1", parentId: null, isThread: false })).toBe("discord:g1:c1");
    expect(discordConversationKey({ guildId: "g2", channelId: "c1", parentId: null, isThread: false })).toBe("discord:g2:c1");
    expect(discordConversationKey({ guildId: "g1", channelId: "t1", parentId: "c1", isThread: true })).toBe("discord:g1:c1:t1");
    expect(discordConversationKey({ guildId: null, channelId: "d1", parentId: null, isThread: false })).toBe("discord:dm:d1");
  });

  it("thread names come from the question's first line, at most 100 characters", () => {
    expect(threadNameFor("\n  what is   rust?\nmore")).toBe("what is rust?");
    const long = threadNameFor("😀".repeat(80));
    expect(long.length).toBeLessThanOrEqual(100);
    expect(long.endsWith("…")).toBe(true);
    expect(threadNameFor("   ")).toBe("Question");
  });

  it("the placeholder shows the place in line: 'Thinking…' when nothing waits before it, else 'Waiting — N ahead'", () => {
    expect(placeholderText(0)).toBe("⏳ Thinking…");
    expect(placeholderText(2)).toBe("⏳ Waiting — 2 ahead");
    expect(placeholderText(1, ["a note"])).toBe("⏳ Waiting — 1 ahead\n-# a note");
    expect(waitingText(0)).toBe("⏳ Waiting — next in line");
  });

  it("button ids round-trip and fit Discord's 100 characters", () => {
    expect(parseButtonId((stopRow("discord-123").components[0] as { custom_id: string }).custom_id)).toEqual({
      action: "stop",
      requestId: "discord-123",
    });
    expect(parseButtonId((regenerateRow("discord-r9").components[0] as { custom_id: string }).custom_id)).toEqual({
      action: "regen",
      requestId: "discord-r9",
    });
    expect(parseButtonId("other:1")).toBeUndefined();
  });

  it("allowlists: guilds, channels (threads by their parent), users or roles, DMs", () => {
    const base = {
      DISCORD_ALLOW_DMS: true,
      DISCORD_ALLOWED_GUILDS: undefined,
      DISCORD_ALLOWED_CHANNELS: undefined,
      DISCORD_ALLOWED_ROLES: undefined,
      DISCORD_ALLOWED_USERS: undefined,
    };
    const ctx = { guildId: "g", channelId: "c", parentId: null, userId: "u", roleIds: ["r"] };
    expect(checkDiscordAccess(base, ctx)).toEqual({ ok: true });
    expect(checkDiscordAccess({ ...base, DISCORD_ALLOWED_GUILDS: ["x"] }, ctx)).toMatchObject({ ok: false, reason: "guild" });
    expect(checkDiscordAccess({ ...base, DISCORD_ALLOWED_CHANNELS: ["x"] }, ctx)).toMatchObject({ ok: false, reason: "channel" });
    expect(checkDiscordAccess({ ...base, DISCORD_ALLOWED_CHANNELS: ["c"] }, { ...ctx, channelId: "t", parentId: "c" })).toEqual({
      ok: true,
    });
    expect(checkDiscordAccess({ ...base, DISCORD_ALLOWED_USERS: ["v"] }, ctx)).toMatchObject({
      ok: false,
      reason: "person",
      message: ACCESS_MESSAGES.person,
    });
    expect(checkDiscordAccess({ ...base, DISCORD_ALLOWED_USERS: ["v"], DISCORD_ALLOWED_ROLES: ["r"] }, ctx)).toEqual({ ok: true });
    expect(checkDiscordAccess({ ...base, DISCORD_ALLOWED_ROLES: ["r"] }, { ...ctx, guildId: null, roleIds: null })).toMatchObject({
      ok: false,
      reason: "person",
    });
    expect(checkDiscordAccess({ ...base, DISCORD_ALLOW_DMS: false }, { ...ctx, guildId: null, roleIds: null })).toMatchObject({
      ok: false,
      reason: "dms",
    });
  });
});
