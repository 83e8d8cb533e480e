/**
 * The Discord adapter end to end, threads and the gateway: a thread per mention (and per /ask),
 * and a MESSAGE_CREATE replayed after a RESUME answered once. Setup and helpers: discordTestbed.ts.
 */
import { Events, type Message } from "discord.js";
import { describe, expect, it } from "vitest";
import { ALICE, CH, discordTestbed, GUILD } from "./discordTestbed.ts";

const tb = discordTestbed();
const { say, generated, botMessages, expectNoPings, useAdapter } = tb;

describe("threads", () => {
  it("with DISCORD_THREAD_PER_MENTION a mention opens a thread named after the question; the conversation continues there", async () => {
    await useAdapter({ ...tb.config, DISCORD_THREAD_PER_MENTION: true });
    try {
      const u = say(CH.threads, "How do threads work?");
      const e = await generated(`discord-${u.id}`);
      const thread = tb.sim.channel(u.id)!; // a thread started on a message takes its id
      expect(thread).toMatchObject({ type: 11, parent_id: CH.threads, name: "How do threads work?" });
      expect(e.request.conversationKey).toBe(`discord:${GUILD}:${CH.threads}:${u.id}`);
      expect(e.request.reply.channelId).toBe(u.id);
      expect(botMessages(CH.threads)).toEqual([]);
      expect(botMessages(u.id).map((m) => m.id)).toEqual([e.request.reply.messageId]);

      // In the bot's thread a reply to its answer needs no typed mention.
      const follow = tb.sim.userSays({
        channelId: u.id,
        author: ALICE,
        content: "and then?",
        messageReference: { messageId: e.request.reply.messageId },
      });
      const e2 = await generated(`discord-${follow.id}`);
      expect(e2.request.conversationKey).toBe(e.request.conversationKey);
      expect(e2.history.map((t) => t.text)).toEqual(["How do threads work?", e.result.text]);
      // A message Discord withholds the text of (no Message Content intent) gets a hint, not silence.
      const blank = say(u.id, "unreadable", ALICE, false);
      const hint = await tb.sim.waitFor(() => botMessages(u.id).find((m) => m.messageReference?.message_id === blank.id), 5000, "the hint");
      expect(hint.content).toMatch(/mention me or reply/);

      // /ask opens a thread too, on the visible question.
      const ask = tb.sim.interaction({
        type: 2,
        name: "ask",
        options: { prompt: "Threads for commands?" },
        channelId: CH.threads,
        user: ALICE,
      });
      const echo = await ask.waitForResponse((r) => r.kind === "callback");
      const e3 = await generated(`discord-${ask.id}`);
      expect(tb.sim.channel(echo.messageId!)).toMatchObject({ type: 11, parent_id: CH.threads, name: "Threads for commands?" });
      expect(e3.request.conversationKey).toBe(`discord:${GUILD}:${CH.threads}:${echo.messageId}`);
      expect(e3.request.reply.channelId).toBe(echo.messageId);
      expectNoPings([CH.threads, u.id, echo.messageId!]);
    } finally {
      await useAdapter(tb.config);
    }
  });
});

describe("gateway resume", () => {
  it("a MESSAGE_CREATE replayed after a RESUME reaches the bot but produces no second reply", async () => {
    const reached: string[] = [];
    const on = (m: Message) => reached.push(m.id);
    tb.adapter!.client.on(Events.MessageCreate, on);
    try {
      const u = say(CH.resume, "answer me once");
      await generated(`discord-${u.id}`);
      const resumes = tb.sim.resumes.length;
      expect(tb.sim.replayOnNextResume(u.id)).toBe(1);
      tb.sim.dropConnection(4000);
      await tb.sim.waitFor(() => tb.sim.resumes.length === resumes + 1, 10_000, "RESUME");
      expect(tb.sim.resumes.at(-1)).toMatchObject({ accepted: true });
      await tb.sim.waitFor(() => reached.filter((id) => id === u.id).length === 2, 10_000, "the duplicate to reach messageCreate");
      // A later message is answered after the duplicate was handled.
      const next = say(CH.resume, "and a new one");
      await generated(`discord-${next.id}`);
      const replies = botMessages(CH.resume, { includeDeleted: true });
      expect(replies.filter((m) => m.messageReference?.message_id === u.id)).toHaveLength(1);
      expect(replies).toHaveLength(2);
      expect(tb.events.filter((e) => e.request.requestId === `discord-${u.id}`)).toHaveLength(1);
      expect((await tb.memory.turns(`discord:${GUILD}:${CH.resume}`)).filter((t) => t.role === "user").map((t) => t.text)).toEqual([
        "answer me once",
        "and a new one",
      ]);
      expect(tb.adapter!.ready()).toBe(true);
    } finally {
      tb.adapter!.client.off(Events.MessageCreate, on);
    }
  });
});
