/**
 * The Discord adapter end to end, commands and access: /ask, /reset, unknown commands, the
 * Regenerate button, allowlist refusals and Redis being down. Setup and helpers: discordTestbed.ts.
 */
import { describe, expect, it } from "vitest";
import { ACCESS_MESSAGES } from "../../adapters/discord/checkDiscordAccess.ts";
import { createChatQueue, Ingestor } from "../../src/queue/Ingestor.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { ALICE, BOB, CH, customIds, DM, discordTestbed, expectedContent, GUILD } from "./discordTestbed.ts";

const tb = discordTestbed();
const { say, generated, botMessages, expectNoPings, useAdapter } = tb;

describe("slash commands", () => {
  it("/ask answers like a mention; /reset empties the memory and confirms ephemerally; unknown commands are answered", async () => {
    expect(tb.sim.commands.map((c) => c.name).sort()).toEqual(["ask", "help", "imagine", "reset", "settings"]);
    const ask = tb.sim.interaction({ type: 2, name: "ask", options: { prompt: "tell me a story" }, channelId: CH.cmd, user: ALICE });
    const echo = await ask.waitForResponse((r) => r.kind === "callback");
    expect(echo.status).toBeLessThan(300);
    expect(echo.ephemeral).toBe(false);
    expect(echo.content).toContain("tell me a story");
    const e = await generated(`discord-${ask.id}`);
    expect(e.request.conversationKey).toBe(`discord:${GUILD}:${CH.cmd}`);
    expect(tb.sim.message(e.request.reply.messageId)?.messageReference?.message_id).toBe(echo.messageId);
    expect(tb.sim.message(e.request.reply.messageId)?.content).toBe(expectedContent(e, tb.config.MAX_NEW_TOKENS));
    expect(await tb.memory.turns(e.request.conversationKey)).toHaveLength(2);

    const reset = tb.sim.interaction({ type: 2, name: "reset", channelId: CH.cmd, user: ALICE });
    const r = await reset.waitForResponse();
    expect(r).toMatchObject({ kind: "callback", type: 4, ephemeral: true });
    expect(r.content).toMatch(/forgotten this channel's conversation/);
    expect(await tb.memory.turns(e.request.conversationKey)).toEqual([]);

    // The next question starts from an empty tb.memory.
    const u = say(CH.cmd, "who am I?");
    expect((await generated(`discord-${u.id}`)).history).toEqual([]);

    const unknown = tb.sim.interaction({ type: 2, name: "dance", channelId: CH.cmd, user: ALICE });
    expect(await unknown.waitForResponse()).toMatchObject({ ephemeral: true, content: "Unknown command." });
    expectNoPings([CH.cmd]);
  });

  it("Regenerate replaces the last answer in memory and in the message; only the latest answer can be regenerated", async () => {
    const u = say(CH.regen, "first question");
    const e1 = await generated(`discord-${u.id}`);
    const msgId = e1.request.reply.messageId;
    const press = tb.sim.interaction({ type: 3, customId: `regen:discord-${u.id}`, messageId: msgId, channelId: CH.regen, user: ALICE });
    const e2 = await generated(`discord-r${press.id}`);
    expect(e2.request.regenerate).toBe(true);
    expect(e2.request.reply.messageId).toBe(msgId);
    const turns = await tb.memory.turns(`discord:${GUILD}:${CH.regen}`);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(turns[0]!.text).toBe("first question");
    expect(turns[1]!.text).toBe(e2.result.text);
    expect(tb.sim.message(msgId)?.content).toBe(expectedContent(e2, tb.config.MAX_NEW_TOKENS));
    expect(customIds(tb.sim.message(msgId)!)).toEqual([`regen:discord-r${press.id}`]);
    expect(botMessages(CH.regen)).toHaveLength(1);

    // Once the conversation moved on, the older answer can't be regenerated.
    const u2 = say(CH.regen, "second question");
    await generated(`discord-${u2.id}`);
    const stale = tb.sim.interaction({
      type: 3,
      customId: `regen:discord-r${press.id}`,
      messageId: msgId,
      channelId: CH.regen,
      user: ALICE,
    });
    expect(await stale.waitForResponse()).toMatchObject({ ephemeral: true, content: expect.stringMatching(/latest answer/) });
    expect((await tb.memory.turns(`discord:${GUILD}:${CH.regen}`)).length).toBe(4);
    expectNoPings([CH.regen]);
  });
});

describe("a blank /ask", () => {
  it("a whitespace-only prompt is told something that fits a slash command; nothing is posted or queued", async () => {
    const ask = tb.sim.interaction({ type: 2, name: "ask", options: { prompt: "   \n\t " }, channelId: CH.blank, user: ALICE });
    const r = await ask.waitForResponse();
    expect(r).toMatchObject({ kind: "callback", ephemeral: true, content: "Your question is empty — write it in `/ask`'s `prompt`." });
    expect(r.content).not.toMatch(/mention/);
    expect(botMessages(CH.blank).filter((m) => !m.ephemeral)).toEqual([]);
    expect(await tb.h.redis.zcard(tb.h.keys.inbox(`discord:${GUILD}:${CH.blank}`))).toBe(0);
  });
});

describe("access", () => {
  it("an allowlist refusal is answered (reply to a message, ephemeral for commands, DM-safe in DMs), never silence", async () => {
    await useAdapter({ ...tb.config, DISCORD_ALLOWED_USERS: [ALICE.id], DISCORD_ALLOW_DMS: false });
    try {
      const u = say(CH.access, "let me in", BOB);
      const refusal = await tb.sim.waitFor(
        () => botMessages(CH.access).find((m) => m.messageReference?.message_id === u.id),
        5000,
        "the refusal",
      );
      expect(refusal.content).toBe(ACCESS_MESSAGES.person);
      const cmd = tb.sim.interaction({ type: 2, name: "ask", options: { prompt: "me too" }, channelId: CH.access, user: BOB });
      expect(await cmd.waitForResponse()).toMatchObject({ ephemeral: true, content: ACCESS_MESSAGES.person });
      const dm = tb.sim.userSays({ channelId: DM, author: ALICE, content: "private question" });
      const dmRefusal = await tb.sim.waitFor(
        () => botMessages(DM).find((m) => m.messageReference?.message_id === dm.id),
        5000,
        "the DM refusal",
      );
      expect(dmRefusal.content).toBe(ACCESS_MESSAGES.dms);
      // Alice is allowed in the channel.
      const ok = say(CH.access, "may I?");
      await generated(`discord-${ok.id}`);
      expect((await tb.memory.turns(`discord:${GUILD}:${CH.access}`)).filter((t) => t.role === "user").map((t) => t.text)).toEqual([
        "may I?",
      ]);
      expectNoPings([CH.access, DM]);
    } finally {
      await useAdapter(tb.config);
    }
  });

  it("with Redis down the user is told to try again in a minute", async () => {
    const dead = createRedis("redis://127.0.0.1:1", "producer");
    const ingestor = new Ingestor(dead, createChatQueue(dead, tb.h.keys), tb.h.keys, { maxInputChars: tb.config.MAX_INPUT_CHARS });
    await useAdapter(tb.config, { redis: dead, ingestor });
    try {
      const u = say(CH.redis, "anyone there?");
      const reply = await tb.sim.waitFor(
        () => botMessages(CH.redis).find((m) => m.messageReference?.message_id === u.id),
        5000,
        "the apology",
      );
      expect(reply.content).toBe("I can't take messages right now — please try again in a minute.");
    } finally {
      await useAdapter(tb.config);
      dead.disconnect();
    }
  });
});
