/**
 * The Discord adapter end to end with a larger token budget: a reply over 5000 characters split
 * across messages, 429s on the edit route, the edit interval, and Stop. Setup and helpers:
 * discordTestbed.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config.ts";
import { splitMessage } from "../../src/text/splitMessage.ts";
import { ALICE, BIG_BUDGET, BOB, CH, customIds, discordTestbed, EDIT_ROUTE, expectedContent, fencesBalanced } from "./discordTestbed.ts";

const tb = discordTestbed();
const { say, generated, placeholderOf, botMessages, expectNoPings, useWorker } = tb;

describe("long replies, rate limits and Stop (a larger token budget)", () => {
  let big: Config;
  beforeAll(async () => {
    big = { ...tb.config, MAX_NEW_TOKENS: BIG_BUDGET, STREAM_INTERVAL_MS: 300 };
    await useWorker(big);
  });
  afterAll(async () => {
    await useWorker(tb.config);
  });

  it("a reply over 5000 characters arrives complete across messages with balanced fences", async () => {
    const u = say(CH.long, "write a lot");
    const e = await generated(`discord-${u.id}`, 60_000);
    expect(e.result.text.length).toBeGreaterThan(5000);
    const parts = e.targets.map((t) => tb.sim.message(t.messageId)!);
    const expected = splitMessage(e.result.text, 1800);
    expect(parts.map((m) => m.content)).toEqual([
      ...expected.slice(0, -1),
      `${expected.at(-1)}${expectedContent(e, BIG_BUDGET).slice(e.result.text.length)}`,
    ]);
    for (const m of parts) {
      expect(m.content.length).toBeLessThanOrEqual(2000);
      expect(fencesBalanced(m.content)).toBe(true);
    }
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.messageReference?.message_id).toBe(parts[i - 1]!.id);
    expect(parts.slice(0, -1).every((m) => customIds(m).length === 0)).toBe(true);
    expect(customIds(parts.at(-1)!)).toEqual([`regen:discord-${u.id}`]);
    expect((await tb.memory.turns(e.request.conversationKey)).at(-1)!.text).toBe(e.result.text);
    expectNoPings([CH.long]);
  });

  it("Regenerate of a multi-message answer reuses its messages: the new text split across them, no duplicate, buttons right", async () => {
    const u = say(CH.regenLong, "write a lot");
    const e1 = await generated(`discord-${u.id}`, 60_000);
    expect(e1.targets.length).toBeGreaterThanOrEqual(2);
    const last = e1.targets.at(-1)!;
    const press = tb.sim.interaction({
      type: 3,
      customId: `regen:discord-${u.id}`,
      messageId: last.messageId,
      channelId: CH.regenLong,
      user: ALICE,
    });
    const e2 = await generated(`discord-r${press.id}`, 60_000);
    expect(e2.request.regenerate).toBe(true);
    // The same first messages, then new ones only when the new answer is longer; none left over.
    const n = Math.min(e1.targets.length, e2.targets.length);
    expect(e2.targets.slice(0, n).map((t) => t.messageId)).toEqual(e1.targets.slice(0, n).map((t) => t.messageId));
    const expected = splitMessage(e2.result.text, 1800);
    const note = expectedContent(e2, BIG_BUDGET).slice(e2.result.text.length);
    expect(e2.targets.slice(0, expected.length).map((t) => tb.sim.message(t.messageId)!.content)).toEqual(
      expected.map((c, i) => (i === expected.length - 1 ? `${c}${note}` : c)),
    );
    // Messages of the old answer the new one does not need are emptied (no stale text, no buttons).
    for (const t of e2.targets.slice(expected.length)) expect(tb.sim.message(t.messageId)).toMatchObject({ content: "…", components: [] });
    const all = botMessages(CH.regenLong);
    expect(all.length).toBe(Math.max(e1.targets.length, e2.targets.length));
    for (const m of all) expect(customIds(m).filter((id) => id.startsWith("stop:"))).toEqual([]);
    expect(customIds(tb.sim.message(e2.targets[expected.length - 1]!.messageId)!)).toEqual([`regen:discord-r${press.id}`]);
    const turns = await tb.memory.turns(e1.request.conversationKey);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(turns[1]!.text).toBe(e2.result.text);
    expectNoPings([CH.regenLong]);
  });

  it("a 429 on the edit route is honoured (retry_after), the final edit lands, and edits per message keep the configured interval", async () => {
    const u = say(CH.rate, "go slowly");
    // The first streamed edit of the placeholder is answered 429 (retry after 0.8 s).
    tb.sim.failNext({ method: "PATCH", path: EDIT_ROUTE }, { status: 429, retryAfterSec: 0.8 });
    const ph = await placeholderOf(u.id);
    const streamedEdits = () => botMessages(CH.rate).reduce((n, m) => n + tb.sim.history(m.id).filter((v) => v.kind === "edit").length, 0);
    await tb.sim.waitFor(() => streamedEdits() >= 8, 20_000, "eight streamed edits");
    tb.sim.interaction({ type: 3, customId: `stop:discord-${u.id}`, messageId: ph.id, channelId: CH.rate, user: ALICE });
    const e = await generated(`discord-${u.id}`, 30_000);
    const patches = tb.sim.requests.filter((r) => r.method === "PATCH" && r.path.endsWith(`/${ph.id}`));
    expect(patches[0]).toMatchObject({ status: 429, scripted: true });
    expect(patches[1]!.time - patches[0]!.time).toBeGreaterThanOrEqual(750);
    // The final text landed, complete.
    const note = expectedContent(e, BIG_BUDGET).slice(e.result.text.length);
    expect(e.targets.map((t) => tb.sim.message(t.messageId)!.content)).toEqual(
      splitMessage(e.result.text, 1800).map((c, i, all) => (i === all.length - 1 ? `${c}${note}` : c)),
    );
    // Rate, on the recorded times of the streamed edits of each message: on average no faster than
    // the interval, and never bursts (slack for jitter: the simulator shares the test's event loop).
    const interval = big.STREAM_INTERVAL_MS;
    for (const t of e.targets) {
      // The worker's edits (REST PATCHes; a button press edits through the interaction callback instead).
      const at = tb.sim.requests
        .filter((r) => r.method === "PATCH" && r.status === 200 && r.path.endsWith(`/${t.messageId}`))
        .map((r) => r.time);
      if (at.length < 2) continue;
      expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual((at.length - 1) * interval * 0.9);
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(interval * 0.5);
    }
  });

  it("Stop aborts generation (fewer tokens than the budget, partial text kept and marked); the sequences are free for the next jobs", async () => {
    const u = say(CH.stop, "a long answer please");
    const requestId = `discord-${u.id}`;
    const ph = await placeholderOf(u.id);
    await tb.sim.waitFor(() => tb.sim.history(ph.id).some((v) => v.kind === "edit"), 10_000, "the first streamed edit");
    // Only the asker (or a moderator) may stop it.
    const bob = tb.sim.interaction({ type: 3, customId: `stop:${requestId}`, messageId: ph.id, channelId: CH.stop, user: BOB });
    expect(await bob.waitForResponse()).toMatchObject({ ephemeral: true, content: expect.stringMatching(/Only alice/) });
    const press = tb.sim.interaction({ type: 3, customId: `stop:${requestId}`, messageId: ph.id, channelId: CH.stop, user: ALICE });
    expect(await press.waitForResponse()).toMatchObject({ type: 7 });
    const e = await generated(requestId, 30_000);
    expect(e.result.stopReason).toBe("abort");
    expect(e.result.generatedTokens).toBeLessThan(BIG_BUDGET);
    expect(tb.sim.message(ph.id)!.content).toBe(`${e.result.text}\n-# stopped`);
    expect((await tb.memory.turns(e.request.conversationKey)).at(-1)!.text).toBe(e.result.text);

    // Both sequences are free: two new conversations stream at the same time.
    const b = say(CH.stopB, "next one");
    const c = say(CH.stopC, "and another");
    const [pb, pc] = await Promise.all([placeholderOf(b.id), placeholderOf(c.id)]);
    await tb.sim.waitFor(
      () => tb.sim.history(pb.id).some((v) => v.kind === "edit") && tb.sim.history(pc.id).some((v) => v.kind === "edit"),
      15_000,
      "both streaming",
    );
    for (const [m, p] of [
      [b, pb],
      [c, pc],
    ] as const) {
      tb.sim.interaction({ type: 3, customId: `stop:discord-${m.id}`, messageId: p.id, channelId: p.channelId, user: ALICE });
    }
    const [eb, ec] = await Promise.all([generated(`discord-${b.id}`, 30_000), generated(`discord-${c.id}`, 30_000)]);
    expect(eb.result.stopReason).toBe("abort");
    expect(ec.result.stopReason).toBe("abort");
    expectNoPings([CH.stop, CH.stopB, CH.stopC]);
  });
});
