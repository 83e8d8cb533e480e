/**
 * The place in line on Discord (issue 12), through the real adapter and worker: a burst of eight
 * mentions gets places 0…7 (each counted when it was queued, before its placeholder was posted),
 * shown as "Waiting — N ahead" until its answer starts (then "Thinking…" or text, never a waiting
 * text again); places move down as the line moves, sent within the channel's edit budget (5 per
 * 5 s, as Discord) without a 429; answers come in order. Stop pressed while waiting says "Stopped
 * before it started." at once and takes the message out of the line. Setup: discordTestbed.ts.
 */
import { describe, expect, it } from "vitest";
import { ALICE, CH, customIds, discordTestbed, GUILD } from "./discordTestbed.ts";

const tb = discordTestbed();
const { say, generated, placeholderOf, useWorker, stopWorkers } = tb;

/** N of a "⏳ Waiting — N ahead" text (0 for "next in line"), undefined for any other text. */
function waitingPlace(content: string): number | undefined {
  if (content.startsWith("⏳ Waiting — next in line")) return 0;
  const m = /^⏳ Waiting — (\d+) ahead/.exec(content);
  return m ? Number(m[1]) : undefined;
}

describe("place in line", () => {
  it("a burst of 8 shows 0…7 ahead; places only go down, are updated within the edit budget, and answers come in order", async () => {
    await stopWorkers();
    try {
      const burst = Array.from({ length: 8 }, (_, i) => say(CH.places, `question ${i}`));
      const phs = await Promise.all(burst.map((m) => placeholderOf(m.id)));
      expect(phs.map((p) => tb.sim.history(p.id)[0]!.content)).toEqual([
        "⏳ Thinking…",
        ...Array.from({ length: 7 }, (_, i) => `⏳ Waiting — ${i + 1} ahead`),
      ]);
      for (const [i, p] of phs.entries()) expect(customIds(tb.sim.history(p.id)[0]!)).toEqual([`stop:discord-${burst[i]!.id}`]);

      // Discord's edit budget in a channel: 5 per 5 s, shared by the streaming answer and the place updates.
      const editRoute = new RegExp(`^/channels/${CH.places}/messages/\\d+$`);
      tb.sim.setRouteLimit(editRoute, { limit: 5, windowMs: 5000, method: "PATCH" });
      await useWorker(tb.config);
      const events = [];
      for (const m of burst) events.push(await generated(`discord-${m.id}`, 120_000));
      // In order: each answer saw every question before it.
      expect(events.map((e) => e.history.filter((t) => t.role === "user").length)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

      let updated = 0;
      for (const p of phs) {
        const shown = tb.sim.history(p.id).map((v) => v.content);
        const places = shown.map(waitingPlace);
        const firstOther = places.indexOf(undefined);
        // Waiting texts first, then the answer starting — never a place in line after that.
        expect(places.slice(firstOther).every((n) => n === undefined)).toBe(true);
        const waiting = places.slice(0, firstOther === -1 ? places.length : firstOther) as number[];
        for (let i = 1; i < waiting.length; i++) expect(waiting[i]!).toBeLessThan(waiting[i - 1]!);
        if (waiting.length > 1) updated++;
      }
      // The line moved seven times: the waiting placeholders were told (coalesced, not dropped).
      expect(updated).toBeGreaterThanOrEqual(3);
      expect(tb.worker!.worker.places.sent).toBeGreaterThanOrEqual(updated);
      const limited = tb.sim.requests.filter((r) => r.method === "PATCH" && editRoute.test(r.path) && r.status === 429 && !r.scripted);
      expect(limited).toEqual([]);
    } finally {
      tb.sim.clearRouteLimits();
      if (tb.h.workers.length === 0) await useWorker(tb.config);
    }
  });

  it("Stop pressed while waiting: 'Stopped before it started.' at once, out of the line, never answered", async () => {
    await stopWorkers();
    const conv = `discord:${GUILD}:${CH.placesStop}`;
    try {
      const [a, b, c] = [say(CH.placesStop, "one"), say(CH.placesStop, "two"), say(CH.placesStop, "three")];
      const [, , pc] = await Promise.all([a, b, c].map((m) => placeholderOf(m.id)));
      await tb.sim.waitFor(
        async () => (await tb.h.redis.hget(tb.h.keys.reply(`discord-${c.id}`), "state")) === "queued",
        5000,
        "the third queued",
      );
      expect(tb.sim.message(pc!.id)!.content).toBe("⏳ Waiting — 2 ahead");
      const press = tb.sim.interaction({
        type: 3,
        customId: `stop:discord-${c.id}`,
        messageId: pc!.id,
        channelId: CH.placesStop,
        user: ALICE,
      });
      expect(await press.waitForResponse()).toMatchObject({ type: 7, content: "Stopped before it started.", components: [] });
      expect(await tb.h.redis.zrange(tb.h.keys.inbox(conv), 0, -1)).toEqual([`discord-${a.id}`, `discord-${b.id}`]);

      await useWorker(tb.config);
      await generated(`discord-${a.id}`);
      const eb = await generated(`discord-${b.id}`);
      expect(eb.history.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["one"]);
      expect(tb.events.some((e) => e.request.requestId === `discord-${c.id}`)).toBe(false);
      expect(tb.sim.message(pc!.id)!).toMatchObject({ content: "Stopped before it started.", components: [] });
      expect((await tb.memory.turns(conv)).filter((t) => t.role === "user").map((t) => t.text)).toEqual(["one", "two"]);
    } finally {
      if (tb.h.workers.length === 0) await useWorker(tb.config);
    }
  });
});
