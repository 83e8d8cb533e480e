/**
 * A deleted reply is a Stop (issue 12), through the real adapter and worker: a moderator deletes
 * the bot's reply while it streams — the adapter sees the MESSAGE_DELETE, or (adapter away) the
 * worker's next edit gets 404 10008 — and the model stops, nothing more is posted (no
 * continuation messages), and nothing of the exchange is remembered (a moderator removed it). A
 * placeholder deleted while its message waits in line is dropped without posting anything.
 * Setup and helpers: discordTestbed.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatRequest } from "../../src/types.ts";
import type { WorkerResult } from "../../workers/ChatWorker.ts";
import { BIG_BUDGET, CH, discordTestbed, GUILD } from "./discordTestbed.ts";

const tb = discordTestbed();
const { say, generated, placeholderOf, botMessages, useWorker, stopWorkers, useAdapter } = tb;

const goneEvents: Array<{ request: ChatRequest; result: WorkerResult | undefined; at: number }> = [];
const watch = () => tb.worker!.worker.on("gone", (request, result) => goneEvents.push({ request, result, at: Date.now() }));
const goneOf = (requestId: string) =>
  tb.sim.waitFor(() => goneEvents.find((g) => g.request.requestId === requestId), 30_000, `the stop of ${requestId}`);

/** Bot messages created in `channelId` after `at` (ms). */
const createdAfter = (channelId: string, at: number) => botMessages(channelId, { includeDeleted: true }).filter((m) => m.createdAt > at);

describe("a deleted reply is a Stop", () => {
  beforeAll(async () => {
    await useWorker({ ...tb.config, MAX_NEW_TOKENS: BIG_BUDGET, STREAM_INTERVAL_MS: 300 });
    watch();
  });
  afterAll(async () => {
    await useWorker(tb.config);
  });

  it("deleted while streaming (MESSAGE_DELETE): the model stops, nothing more is posted, nothing is remembered", async () => {
    const u = say(CH.gone, "a long answer please");
    const requestId = `discord-${u.id}`;
    const ph = await placeholderOf(u.id);
    await tb.sim.waitFor(() => tb.sim.history(ph.id).some((v) => v.kind === "edit"), 15_000, "the first streamed edit");
    const deletedAt = Date.now();
    tb.sim.moderatorDeletes(ph.id);
    const g = await goneOf(requestId);
    expect(g.result?.stopReason).toBe("abort");
    expect(g.result!.generatedTokens).toBeLessThan(BIG_BUDGET);
    // Let anything still in flight land, then check nothing was posted after the deletion.
    const later = say(CH.gone, "next question");
    const next = await generated(`discord-${later.id}`, 60_000);
    const nextIds = new Set(next.targets.map((t) => t.messageId));
    expect(createdAfter(CH.gone, deletedAt).filter((m) => !nextIds.has(m.id))).toEqual([]);
    expect(tb.events.some((e) => e.request.requestId === requestId)).toBe(false);
    const turns = await tb.memory.turns(`discord:${GUILD}:${CH.gone}`);
    expect(turns.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["next question"]);
    expect(await tb.h.redis.hget(tb.h.keys.reply(requestId), "state")).toBe("done");
    expect(await tb.h.redis.zscore(tb.h.keys.openReplies, requestId)).toBeNull();
  });

  it("a deleted follow-up of a long answer stops it too; with the adapter away, the worker learns it from the 404 on its next edit", async () => {
    await tb.adapter!.close();
    try {
      await useAdapter(tb.config);
      const u = say(CH.goneLong, "write a lot");
      const requestId = `discord-${u.id}`;
      const ph = await placeholderOf(u.id);
      const follow = await tb.sim.waitFor(
        () => botMessages(CH.goneLong).find((m) => m.messageReference?.message_id === ph.id),
        60_000,
        "the first follow-up",
      );
      // The adapter goes away: only the worker can notice.
      await tb.adapter!.close();
      const deletedAt = Date.now();
      tb.sim.moderatorDeletes(follow.id);
      const g = await goneOf(requestId);
      expect(g.result?.stopReason).toBe("abort");
      expect(g.result!.generatedTokens).toBeLessThan(BIG_BUDGET);
      await useAdapter(tb.config);
      const later = say(CH.goneLong, "still there?");
      const next = await generated(`discord-${later.id}`, 60_000);
      const nextIds = new Set(next.targets.map((t) => t.messageId));
      expect(createdAfter(CH.goneLong, deletedAt).filter((m) => !nextIds.has(m.id))).toEqual([]);
      const turns = await tb.memory.turns(`discord:${GUILD}:${CH.goneLong}`);
      expect(turns.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["still there?"]);
    } finally {
      await useAdapter(tb.config);
    }
  });

  it("a placeholder deleted while its message waits in line: dropped without posting anything", async () => {
    await stopWorkers();
    try {
      const first = say(CH.goneWaiting, "first");
      const second = say(CH.goneWaiting, "second");
      await placeholderOf(first.id);
      const ph2 = await placeholderOf(second.id);
      await tb.sim.waitFor(
        async () =>
          (await tb.h.redis.exists(tb.h.keys.gone(`discord-${second.id}`))) === 0 &&
          (await tb.h.redis.hget(tb.h.keys.reply(`discord-${second.id}`), "state")) === "queued",
        5000,
        "queued",
      );
      tb.sim.moderatorDeletes(ph2.id);
      await tb.sim.waitFor(async () => (await tb.h.redis.exists(tb.h.keys.gone(`discord-${second.id}`))) === 1, 5000, "marked gone");
      const before = botMessages(CH.goneWaiting, { includeDeleted: true }).length;
      await useWorker({ ...tb.config, MAX_NEW_TOKENS: 24 });
      watch();
      await generated(`discord-${first.id}`);
      const g = await goneOf(`discord-${second.id}`);
      expect(g.result).toBeUndefined();
      expect(botMessages(CH.goneWaiting, { includeDeleted: true }).length).toBe(before);
      const turns = await tb.memory.turns(`discord:${GUILD}:${CH.goneWaiting}`);
      expect(turns.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["first"]);
    } finally {
      await useWorker({ ...tb.config, MAX_NEW_TOKENS: BIG_BUDGET, STREAM_INTERVAL_MS: 300 });
      watch();
    }
  });
});
