/**
 * Discord during an incident (issue 12), through the real discord.js adapter and worker against
 * the simulator: writes Discord saved and then answered 500 (or a closed socket) — placeholders,
 * follow-ups and the /ask callback — produce no duplicate and no message left "Thinking…" with a
 * live Stop button; an /ask whose callback failed for good is answered all the same; the sweeper
 * finishes placeholders whose request vanished or failed; a mention where the bot may not post
 * gets a DM naming the missing permission. Setup and helpers: discordTestbed.ts.
 */
import { describe, expect, it } from "vitest";
import { createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { FAILURE_NOTE, ReplySweeper, UNANSWERED_NOTE } from "../../workers/ReplySweeper.ts";
import { Permission } from "../sim/discord/DiscordSimulator.ts";
import { ALICE, BIG_BUDGET, BOT, CH, customIds, DM, discordTestbed, expectedContent, GUILD } from "./discordTestbed.ts";

const tb = discordTestbed();
const { say, generated, placeholderOf, botMessages, useWorker } = tb;
const CREATE = /^\/channels\/\d+\/messages$/;
const CALLBACK = /^\/interactions\/\d+\/[^/]+\/callback$/;

/** No bot message in these channels still offers Stop. */
function noLiveStop(channelIds: string[]): void {
  for (const c of channelIds) for (const m of botMessages(c)) expect(customIds(m).filter((id) => id.startsWith("stop:"))).toEqual([]);
}

describe("writes saved, then answered with an error", () => {
  it("a placeholder create answered 500 after commit is retried with its nonce: one placeholder, answered, no live Stop", async () => {
    tb.sim.failAfterCommit({ method: "POST", path: CREATE }, { status: 500 });
    const u = say(CH.nonce, "are you there?");
    const e = await generated(`discord-${u.id}`);
    expect(botMessages(CH.nonce)).toHaveLength(1);
    expect(tb.sim.afterCommitFaults.at(-1)).toMatchObject({ method: "POST", answered: 500 });
    expect(tb.sim.nonceHits.map((h) => h.messageId)).toContain(e.request.reply.messageId);
    expect(tb.sim.message(e.request.reply.messageId)!.content).toBe(expectedContent(e, tb.config.MAX_NEW_TOKENS));
    noLiveStop([CH.nonce]);
  });

  it("follow-ups of a long answer answered 500 (retried) or cut off (not retried) are not duplicated", async () => {
    await useWorker({ ...tb.config, MAX_NEW_TOKENS: BIG_BUDGET, STREAM_INTERVAL_MS: 300 });
    try {
      const u = say(CH.nonceLong, "write a lot");
      await placeholderOf(u.id);
      // The next creates in the channel are the worker's follow-ups.
      tb.sim.failAfterCommit({ method: "POST", path: CREATE }, { status: 500 });
      const e = await generated(`discord-${u.id}`, 90_000);
      expect(e.targets.length).toBeGreaterThanOrEqual(3);
      const faults = tb.sim.afterCommitFaults.filter((f) => f.answered === 500 && f.method === "POST");
      expect(faults.length).toBeGreaterThanOrEqual(2);
      // Every message of the channel by the bot is one of the answer's, in order; nothing left over.
      expect(botMessages(CH.nonceLong).map((m) => m.id)).toEqual(e.targets.map((t) => t.messageId));
      noLiveStop([CH.nonceLong]);
      expect(customIds(tb.sim.message(e.targets.at(-1)!.messageId)!)).toEqual([`regen:discord-${u.id}`]);

      // A socket closed after the follow-up was saved: discord.js does not retry; the streamer's
      // next try carries the same nonce and finds it.
      const v = say(CH.nonceLong, "and again");
      await placeholderOf(v.id);
      tb.sim.failAfterCommit({ method: "POST", path: CREATE }, { drop: "close" });
      const e2 = await generated(`discord-${v.id}`, 90_000);
      const mine = botMessages(CH.nonceLong).filter((m) => !e.targets.some((t) => t.messageId === m.id));
      expect(mine.map((m) => m.id)).toEqual(e2.targets.map((t) => t.messageId));
      expect(tb.sim.afterCommitFaults.some((f) => f.answered === "close")).toBe(true);
      noLiveStop([CH.nonceLong]);
    } finally {
      await useWorker(tb.config);
    }
  });
});

describe("/ask when its interaction callback fails", () => {
  it("saved, then 500 (the retry gets 40060 'already acknowledged'): the echo is found and the answer replies to it", async () => {
    tb.sim.failAfterCommit({ method: "POST", path: CALLBACK }, { status: 500 });
    const ask = tb.sim.interaction({ type: 2, name: "ask", options: { prompt: "tell me" }, channelId: CH.askFail, user: ALICE });
    const e = await generated(`discord-${ask.id}`);
    const callbacks = ask.responses().filter((r) => r.kind === "callback");
    // Saved (then answered 500), and the retry refused: 40060 "already acknowledged".
    expect(callbacks.map((r) => r.status)).toEqual([200, 400]);
    expect(tb.sim.afterCommitFaults.find((f) => CALLBACK.test(f.path))).toMatchObject({ answered: 500 });
    const echoes = tb.sim.messages(CH.askFail).filter((m) => m.content.includes("asked:"));
    expect(echoes).toHaveLength(1);
    expect(tb.sim.message(e.request.reply.messageId)!.messageReference?.message_id).toBe(echoes[0]!.id);
    expect(ask.responses().filter((r) => r.ephemeral)).toEqual([]);
    noLiveStop([CH.askFail]);
  });

  it("failing for good (never acknowledged): the question is posted in the channel and answered there", async () => {
    // discord.js tries the callback 4 times (3 retries); Discord never takes it.
    tb.sim.failNext({ method: "POST", path: CALLBACK }, { status: 500 }, 4);
    const ask = tb.sim.interaction({ type: 2, name: "ask", options: { prompt: "still there?" }, channelId: CH.askLost, user: ALICE });
    const e = await generated(`discord-${ask.id}`, 30_000);
    const question = tb.sim.messages(CH.askLost).find((m) => m.content.includes("still there?"))!;
    expect(question).toMatchObject({ authorId: BOT, interactionId: null });
    expect(tb.sim.message(e.request.reply.messageId)!.messageReference?.message_id).toBe(question.id);
    expect(tb.sim.message(e.request.reply.messageId)!.content).toBe(expectedContent(e, tb.config.MAX_NEW_TOKENS));
  });
});

describe("placeholders that never got an answer", () => {
  it("the sweeper finishes an open reply whose request vanished, or whose failure could not be shown: no live Stop left", async () => {
    await tb.stopWorkers();
    const conv = `discord:${GUILD}:${CH.orphan}`;
    const sweeper = new ReplySweeper({
      redis: tb.h.redis,
      keys: tb.h.keys,
      queue: tb.h.queue,
      sinks: { discord: createDiscordSink(tb.config, tb.h.logger, { redis: tb.h.redis, keys: tb.h.keys }) },
      logger: tb.h.logger,
      memoryTtlSeconds: 3600,
    });
    // Attached: its placeholder is in the line (and open).
    const queued = (id: string) =>
      tb.sim.waitFor(async () => (await tb.h.redis.hget(tb.h.keys.reply(`discord-${id}`), "state")) === "queued", 5000, "queued");
    try {
      const lost = say(CH.orphan, "lost one");
      const ph = await placeholderOf(lost.id);
      await queued(lost.id);
      // The request expires before its turn (as after its TTL): gone from the line and from Redis.
      await tb.h.redis.zrem(tb.h.keys.inbox(conv), `discord-${lost.id}`);
      await tb.h.redis.del(tb.h.keys.request(`discord-${lost.id}`), tb.h.keys.reply(`discord-${lost.id}`));
      // Nothing is stale yet: a fresh open reply is surely in flight.
      expect(await sweeper.sweepOpen()).toBe(0);
      expect(await sweeper.sweepOpen(0)).toBe(1);
      expect(tb.sim.message(ph.id)).toMatchObject({ content: UNANSWERED_NOTE, components: [] });

      // A job failed for good, and its error note could not be shown (Discord answered 503 to the
      // edit and to both retries): the reply stays open until the sweep can show it.
      const doomed = say(CH.orphan, "doomed");
      const ph2 = await placeholderOf(doomed.id);
      await queued(doomed.id);
      tb.sim.failNext({ method: "PATCH", path: new RegExp(`/messages/${ph2.id}$`) }, { status: 503 }, 3);
      await sweeper.failForGood(conv);
      // The DM goes out as the placeholder is refused; the reserved place is released right after it.
      await tb.sim.waitFor(async () => (await tb.h.redis.zcard(tb.h.keys.inbox(conv))) === 0, 5000, "the place in line released");
      expect(customIds(tb.sim.message(ph2.id)!)).toEqual([`stop:discord-${doomed.id}`]);
      expect(await sweeper.sweepOpen(0)).toBe(1);
      expect(tb.sim.message(ph2.id)).toMatchObject({ content: FAILURE_NOTE, components: [] });
      expect(await sweeper.sweepOpen(0)).toBe(0);
      noLiveStop([CH.orphan]);
    } finally {
      await useWorker(tb.config);
    }
  });
});

describe("a channel where the bot may not post", () => {
  it("a mention there gets a DM naming the missing permission; nothing waits in line, nothing is remembered", async () => {
    tb.sim.setChannelOverwrite(CH.denied, { id: BOT, type: 1, deny: Permission.SendMessages });
    const u = say(CH.denied, "hello?");
    const dm = await tb.sim.waitFor(
      () => botMessages(DM).find((m) => m.content.includes(`<#${CH.denied}>`)),
      10_000,
      "the DM explaining why",
    );
    expect(dm.content).toMatch(/Send Messages/);
    expect(botMessages(CH.denied)).toEqual([]);
    const conv = `discord:${GUILD}:${CH.denied}`;
    // The DM goes out as the placeholder is refused; the reserved place is released right after it.
    await tb.sim.waitFor(async () => (await tb.h.redis.zcard(tb.h.keys.inbox(conv))) === 0, 5000, "the place in line released");
    expect(await tb.memory.turns(conv)).toEqual([]);
    // The claim is released: once the permission is back, the same message could be taken again.
    await tb.sim.waitFor(
      async () => (await tb.h.redis.exists(`${tb.h.keys.prefix}:discord:seen:${u.id}`)) === 0,
      5000,
      "the claim released",
    );
  });
});
