/**
 * Every gateway event and interaction is taken once (issue 12): after a resume, the simulator
 * sends again every MESSAGE_CREATE and INTERACTION_CREATE the client had already received
 * (duplicateOnResume) — a mention, a DM, `/ask`, Regenerate, `/reset` and Stop — and nothing
 * happens twice: no second answer, no second interaction callback (which Discord would refuse
 * with 40060), and the replayed `/reset` does not wipe what was said since. Setup: discordTestbed.ts.
 */
import { describe, expect, it } from "vitest";
import { ALICE, BOT, CH, DM, discordTestbed, GUILD } from "./discordTestbed.ts";

const tb = discordTestbed();
const { say, generated, botMessages } = tb;

describe("replays after a resume", () => {
  it("a replayed mention, DM, /ask, Regenerate, /reset and Stop do nothing the second time", async () => {
    tb.sim.duplicateOnResume(["MESSAGE_CREATE", "INTERACTION_CREATE"]);
    const conv = `discord:${GUILD}:${CH.replays}`;
    try {
      const m1 = say(CH.replays, "first mention");
      const e1 = await generated(`discord-${m1.id}`);
      const d1 = tb.sim.userSays({ channelId: DM, author: ALICE, content: "a DM" });
      await generated(`discord-${d1.id}`);
      const ask = tb.sim.interaction({ type: 2, name: "ask", options: { prompt: "asked" }, channelId: CH.replays, user: ALICE });
      const ea = await generated(`discord-${ask.id}`);
      const regen = tb.sim.interaction({
        type: 3,
        customId: `regen:discord-${ask.id}`,
        messageId: ea.request.reply.messageId,
        channelId: CH.replays,
        user: ALICE,
      });
      await generated(`discord-r${regen.id}`);
      const reset = tb.sim.interaction({ type: 2, name: "reset", channelId: CH.replays, user: ALICE });
      await reset.waitForResponse();
      expect(await tb.memory.turns(conv)).toEqual([]);
      const m2 = say(CH.replays, "said after the reset");
      await generated(`discord-${m2.id}`);
      // Stop on a message that waits (no worker): out of the line.
      await tb.stopWorkers();
      const waiting = say(CH.replays, "never mind");
      const ph = await tb.placeholderOf(waiting.id);
      await tb.sim.waitFor(
        async () => (await tb.h.redis.hget(tb.h.keys.reply(`discord-${waiting.id}`), "state")) === "queued",
        5000,
        "queued",
      );
      const stop = tb.sim.interaction({
        type: 3,
        customId: `stop:discord-${waiting.id}`,
        messageId: ph.id,
        channelId: CH.replays,
        user: ALICE,
      });
      expect(await stop.waitForResponse()).toMatchObject({ content: "Stopped before it started." });
      await tb.useWorker(tb.config);

      const interactions = [ask, regen, reset, stop];
      const callbacks = () => interactions.map((i) => i.responses().filter((r) => r.kind === "callback").length);
      expect(callbacks()).toEqual([1, 1, 1, 1]);
      const messagesBefore = botMessages(CH.replays).length + botMessages(DM).length;
      const eventsBefore = tb.events.length;

      // The link drops; the client resumes; every message and interaction is sent again.
      const resumes = tb.sim.resumes.length;
      tb.sim.dropConnection(4000);
      await tb.sim.waitFor(() => tb.sim.resumes.slice(resumes).find((r) => r.accepted && r.replayed > 0), 15_000, "the resume");
      const replayed = tb.sim.dispatches.filter((d) => d.replay).map((d) => (d.d as { id: string }).id);
      for (const id of [m1.id, d1.id, m2.id, waiting.id, ask.id, regen.id, reset.id, stop.id]) expect(replayed).toContain(id);

      // A new message after the replays: it sees what was said after the reset (the replayed
      // /reset wiped nothing), and it is the only new answer.
      const m3 = say(CH.replays, "after the resume");
      const e3 = await generated(`discord-${m3.id}`);
      expect(e3.history.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["said after the reset"]);
      expect(tb.events.length).toBe(eventsBefore + 1);
      expect(botMessages(CH.replays).length + botMessages(DM).length).toBe(messagesBefore + 1);
      expect(callbacks()).toEqual([1, 1, 1, 1]);
      for (const id of [m1.id, d1.id, m2.id]) expect(tb.events.filter((e) => e.request.requestId === `discord-${id}`)).toHaveLength(1);
      expect(tb.events.some((e) => e.request.requestId === `discord-${waiting.id}`)).toBe(false);
      expect(e1.request.reply.messageId).not.toBe(BOT);
      expect((await tb.memory.turns(conv)).filter((t) => t.role === "user").map((t) => t.text)).toEqual([
        "said after the reset",
        "after the resume",
      ]);
    } finally {
      tb.sim.duplicateOnResume(["MESSAGE_CREATE", "INTERACTION_CREATE"], false);
    }
  });
});
