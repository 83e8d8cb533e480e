/**
 * `/imagine` through the real discord.js client against the Discord simulator, with a real image
 * worker (no model) driving the loopback Stable Diffusion stand-in: the echo and the placeholder,
 * the previews uploaded into the placeholder (multipart PATCH, each replacing the last, spaced by
 * the sink), the final PNG with its caption and Regenerate, Stop keeping the last preview marked
 * stopped, Regenerate making it again with a new seed, and the refusals (bad options, no engine).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { type RunningDiscordAdapter, startDiscordAdapter } from "../../adapters/discord/startDiscordAdapter.ts";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE } from "../../src/images/imagineText.ts";
import { createChatQueue, Ingestor, ingestOptionsFrom } from "../../src/queue/Ingestor.ts";
import { A1111Engine } from "../../workers/images/A1111Engine.ts";
import { ImageHarness, imageTestConfig, until } from "../helpers/imageHarness.ts";
import { DiscordSimulator, type MessageRecord } from "../sim/discord/DiscordSimulator.ts";
import { ImageEngineSimulator } from "../sim/images/ImageEngineSimulator.ts";
import { customIds } from "./discordTestbed.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const CH = "300000000000000001";
const CH2 = "300000000000000002";
const ALICE = { id: "500000000000000001", username: "alice" };
const BOB = { id: "500000000000000002", username: "bob" };
const PREVIEW_GAP_MS = 400;

let dsim: DiscordSimulator;
let engineSim: ImageEngineSimulator;
let engine: A1111Engine;
let h: ImageHarness;
let adapter: RunningDiscordAdapter;
let chatQueue: ReturnType<typeof createChatQueue>;

async function useAdapter(imagine = h.intake()): Promise<void> {
  await adapter?.close();
  adapter = await startDiscordAdapter({
    config: h.config,
    logger: h.logger,
    redis: h.redis,
    keys: h.keys,
    ingestor: new Ingestor(h.redis, chatQueue, h.keys, ingestOptionsFrom(h.config, { rateLimit: false })),
    memory: h.memory,
    imagine,
  });
}

beforeAll(async () => {
  dsim = await DiscordSimulator.start({ botUserId: BOT, heartbeatIntervalMs: 500 });
  dsim.addGuild({
    id: GUILD,
    name: "Guild",
    channels: [
      { id: CH, name: "art", type: 0 },
      { id: CH2, name: "art2", type: 0 },
    ],
    members: [{ user: ALICE }, { user: BOB }],
  });
  engineSim = await ImageEngineSimulator.start({ stepDelayMs: 120 });
  h = new ImageHarness(
    imageTestConfig({ DISCORD_TOKEN: "fake-token-for-sim", DISCORD_API_URL: dsim.apiBase, IMAGE_UPDATE_INTERVAL_MS: "250" }),
  );
  chatQueue = createChatQueue(h.redis, h.keys);
  engine = new A1111Engine({ baseUrl: engineSim.url, timeoutMs: 30_000, previewIntervalMs: 50 });
  const sink = createDiscordSink(h.config, h.logger, { redis: h.redis, keys: h.keys, minPreviewIntervalMs: PREVIEW_GAP_MS });
  await h.startWorker({ engine, sinks: { discord: sink } });
  await useAdapter();
});
afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await chatQueue?.close();
  await engine?.close();
  await engineSim?.stop();
  await dsim?.stop();
});

const bot = (channelId: string) => dsim.messages(channelId).filter((m) => m.authorId === BOT && !m.ephemeral);
const attachmentNames = (m: MessageRecord) => (m.attachments as Array<{ filename: string }>).map((a) => a.filename);
const isFinal = (m: MessageRecord | undefined) => !!m && customIds(m).some((id) => id.startsWith("regen:"));

/** Send /imagine and wait for its echo and placeholder. */
async function imagine(options: Record<string, string | number>, channelId = CH, user = ALICE) {
  const handle = dsim.interaction({ type: 2, name: "imagine", options, channelId, user });
  const echo = await handle.waitForResponse((r) => r.kind === "callback");
  const echoId = echo.messageId!;
  const placeholder = await dsim.waitFor(() => bot(channelId).find((m) => m.messageReference?.message_id === echoId), 5000, "placeholder");
  return { handle, echo, placeholder };
}

describe("/imagine on Discord", () => {
  it("echoes the prompt, streams previews into the placeholder as attachments, and ends with the PNG, its caption and Regenerate", async () => {
    expect(dsim.commands.find((c) => c.name === "imagine")).toBeDefined();
    const { echo, placeholder } = await imagine({ prompt: "a lighthouse at dawn", steps: 8, seed: 42, size: "96x64" });
    expect(echo.ephemeral).toBe(false);
    expect(echo.content).toContain("a lighthouse at dawn");
    expect(customIds(placeholder)).toEqual([`stop:discord-img-${echo.interactionId}`]);
    const final = await dsim.waitFor(
      () => (isFinal(dsim.message(placeholder.id)) ? dsim.message(placeholder.id) : undefined),
      20_000,
      "the picture",
    );
    expect(attachmentNames(final)).toEqual(["imagine-42.png"]);
    expect(final.content).toContain("a lighthouse at dawn");
    expect(final.content).toMatch(/96×64 · 8 steps · seed 42/);
    const uploads = dsim.uploads.filter((u) => u.messageId === placeholder.id);
    const previews = uploads.filter((u) => u.filename.startsWith("preview-"));
    expect(previews.length).toBeGreaterThan(0);
    expect(uploads.at(-1)!.filename).toBe("imagine-42.png");
    expect(uploads.at(-1)!.description).toBe("a lighthouse at dawn");
    for (let i = 1; i < previews.length; i++) expect(previews[i]!.time - previews[i - 1]!.time).toBeGreaterThanOrEqual(PREVIEW_GAP_MS - 20);
    const png = dsim.attachmentData(uploads.at(-1)!.attachmentId)!;
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // Every version with a picture held exactly one: each upload replaced the one before.
    for (const v of dsim.history(placeholder.id))
      expect((v as { attachments?: unknown[] }).attachments?.length ?? 0).toBeLessThanOrEqual(1);
    expect(engineSim.generations.at(-1)).toMatchObject({ prompt: "a lighthouse at dawn", steps: 8, seed: 42 });
  });

  it("refuses out-of-range options and an empty prompt ephemerally, naming the allowed range; nothing is posted", async () => {
    const before = bot(CH2).length;
    const steps = dsim.interaction({ type: 2, name: "imagine", options: { prompt: "x", steps: 999 }, channelId: CH2, user: ALICE });
    const r1 = await steps.waitForResponse((r) => r.kind === "callback");
    expect(r1.ephemeral).toBe(true);
    expect(r1.content).toMatch(/20/);
    const empty = dsim.interaction({ type: 2, name: "imagine", options: { prompt: "   " }, channelId: CH2, user: ALICE });
    const r2 = await empty.waitForResponse((r) => r.kind === "callback");
    expect(r2.ephemeral).toBe(true);
    expect(r2.content).toMatch(/describe/i);
    expect(bot(CH2).length).toBe(before);
  });

  it("Stop interrupts the engine and keeps the last preview marked stopped; only the asker may press it", async () => {
    engineSim.set({ stallAtStep: 4 });
    try {
      const { placeholder } = await imagine({ prompt: "a slow cathedral", steps: 12, seed: 7 }, CH2);
      await dsim.waitFor(() => dsim.uploads.some((u) => u.messageId === placeholder.id), 10_000, "a preview");
      const stopId = customIds(dsim.message(placeholder.id)!)[0]!;
      const byBob = dsim.interaction({ type: 3, customId: stopId, messageId: placeholder.id, channelId: CH2, user: BOB });
      expect((await byBob.waitForResponse((r) => r.kind === "callback")).content).toMatch(/Only alice/);
      dsim.interaction({ type: 3, customId: stopId, messageId: placeholder.id, channelId: CH2, user: ALICE });
      const final = await dsim.waitFor(
        () => (isFinal(dsim.message(placeholder.id)) ? dsim.message(placeholder.id) : undefined),
        20_000,
        "stopped",
      );
      expect(final.content).toMatch(/stopped at step \d+\/12/);
      expect(attachmentNames(final)).toHaveLength(1);
      expect(attachmentNames(final)[0]).toMatch(/^preview-/);
      expect(engineSim.interrupts).toBeGreaterThan(0);
    } finally {
      engineSim.set({ stallAtStep: undefined });
    }
  });

  it("a moderator deleting the picture's placeholder stops the engine; nothing is posted or remembered; the next picture goes on", async () => {
    engineSim.set({ stallAtStep: 3 });
    try {
      const before = engineSim.interrupts;
      const { placeholder, echo } = await imagine({ prompt: "a doomed tower", steps: 12 }, CH2);
      await dsim.waitFor(() => engineSim.running, 10_000, "the engine working");
      const posted = bot(CH2).length;
      dsim.moderatorDeletes(placeholder.id);
      await dsim.waitFor(() => engineSim.interrupts > before, 10_000, "an interrupt");
      const requestId = `discord-img-${echo.interactionId}`;
      await until(
        async () => ["done", "failed"].includes((await h.redis.hget(h.keys.reply(requestId), "state")) ?? ""),
        "the request settled",
        10_000,
      );
      expect(bot(CH2).length).toBe(posted - 1);
      expect((await h.turns(`discord:${GUILD}:${CH2}`)).some((t) => t.text.includes("doomed"))).toBe(false);
    } finally {
      engineSim.set({ stallAtStep: undefined });
    }
  });

  it("Regenerate makes the picture again with a new seed, in a new reply to the picture", async () => {
    const { placeholder } = await imagine({ prompt: "a red kite", steps: 4 }, CH);
    const first = await dsim.waitFor(
      () => (isFinal(dsim.message(placeholder.id)) ? dsim.message(placeholder.id) : undefined),
      20_000,
      "first",
    );
    const regenId = customIds(first).find((id) => id.startsWith("regen:"))!;
    const click = dsim.interaction({ type: 3, customId: regenId, messageId: placeholder.id, channelId: CH, user: ALICE });
    await click.waitForResponse((r) => r.kind === "callback");
    const second = await dsim.waitFor(
      () => bot(CH).find((m) => m.messageReference?.message_id === placeholder.id),
      5000,
      "new placeholder",
    );
    const done = await dsim.waitFor(() => (isFinal(dsim.message(second.id)) ? dsim.message(second.id) : undefined), 20_000, "second");
    const seedOf = (m: MessageRecord) => /seed (\d+)/.exec(m.content)![1];
    expect(done.content).toContain("a red kite");
    expect(seedOf(done)).not.toBe(seedOf(first));
    expect(attachmentNames(done)).toEqual([`imagine-${seedOf(done)}.png`]);
  });

  it("without an image engine the command is still registered and says how to set one up", async () => {
    await useAdapter(h.intake({ engineConfigured: false }));
    try {
      const handle = dsim.interaction({ type: 2, name: "imagine", options: { prompt: "a cat" }, channelId: CH2, user: ALICE });
      const r = await handle.waitForResponse((x) => x.kind === "callback");
      expect(r.ephemeral).toBe(true);
      expect(r.content).toBe(IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
    } finally {
      await useAdapter();
    }
  });
});
