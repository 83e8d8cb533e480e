/**
 * `/imagine` on Slack end to end: the real Bolt app against the Slack simulator, the image lane's
 * intake, an image worker on the AUTOMATIC1111 stand-in writing through the real SlackSink —
 * previews and the picture uploaded with files.getUploadURLExternal + POST +
 * files.completeUploadExternal into the request's thread, each preview replacing the one before;
 * Stop keeps the last preview, marked stopped; refusals are ephemeral and name the allowed range;
 * an upload Slack refuses ends in a note; no engine: how to set one up.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { IMAGINE_USAGE } from "../../adapters/slack/slackImagine.ts";
import { STOP_ACTION_ID } from "../../adapters/slack/slackMessages.ts";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE, IMAGINE_TEXT } from "../../src/images/imagineText.ts";
import type { ReplyTarget } from "../../src/types.ts";
import { A1111Engine } from "../../workers/images/A1111Engine.ts";
import { ImageEngineSimulator } from "../sim/images/ImageEngineSimulator.ts";
import { encodePng } from "../sim/images/png.ts";
import { type SimMessage, waitFor } from "../sim/slack/SlackSimulator.ts";
import { type SlackBed, startSlackBed } from "./slackFeatureTestbed.ts";

let engineSim: ImageEngineSimulator;
let bed: SlackBed;
const WAIT = 20_000;

beforeAll(async () => {
  engineSim = await ImageEngineSimulator.start({ stepDelayMs: 80 });
  bed = await startSlackBed({ teams: [{ id: "T1" }, { id: "T2", maxUploadBytes: 100 }] });
  const engine = new A1111Engine({ baseUrl: engineSim.url, timeoutMs: 30_000, previewIntervalMs: 15 });
  await bed.h.startWorker({ engine, sinks: { slack: bed.sink } });
});
afterEach(() => {
  engineSim.set({ stallAtStep: undefined });
});
afterAll(async () => {
  await bed?.close();
  await engineSim?.stop();
});

const done = (m: SimMessage | undefined) => m !== undefined && Array.isArray(m.blocks) && m.blocks.length === 0;

/** Sends /imagine and waits for its thread parent and placeholder. */
async function imagine(team: string, text: string, channel = "C1", user = "U1") {
  const envelope = bed.sim.sendSlashCommand(team, { command: "/imagine", text, user_id: user, channel_id: channel });
  const ack = await envelope.waitAck(5000);
  const parent = await waitFor(() => bed.sim.messages(team, channel).find((m) => m.text.startsWith(`<@${user}> asked for a picture`)));
  const placeholder = await waitFor(() => bed.sim.thread(team, channel, parent.ts).find((m) => m.reply && m.bot_id));
  return { ack, parent, placeholder };
}

const liveShares = (team: string, channel: string, threadTs: string) =>
  bed.sim.thread(team, channel, threadTs).filter((m) => m.subtype === "file_share" && !m.deleted);

describe("/imagine refusals", () => {
  it("are ephemeral, name what is allowed, and post nothing", async () => {
    expect(await bed.command("T1", "/imagine", "", "U1", "C9")).toBe(IMAGINE_USAGE);
    const steps = await bed.command("T1", "/imagine", "a cat steps:999", "U1", "C9");
    expect(steps).toMatch(/1 to 20/);
    const size = await bed.command("T1", "/imagine", "a cat size:1024x1024", "U1", "C9");
    expect(size).toMatch(/64x64 or 96x64/);
    expect(await bed.command("T1", "/imagine", "a cat seed:", "U1", "C9")).toMatch(/`seed:` needs a value/);
    expect(bed.sim.messages("T1", "C9")).toEqual([]);
  });

  it("in a channel the bot is not in: asked to invite it, nothing left behind", async () => {
    bed.sim.addChannel("T1", { id: "C8", botIsMember: false });
    const requests = () => bed.h.redis.keys(`${bed.config.REDIS_PREFIX}:*req:slack-T1-imagine-*`);
    const before = (await requests()).length;
    expect(await bed.command("T1", "/imagine", "a cat", "U1", "C8")).toMatch(/Invite me to the channel first/);
    expect(bed.sim.messages("T1", "C8")).toEqual([]);
    // Nothing was queued in the image lane for it.
    expect((await requests()).length).toBe(before);
  });

  it("with no engine configured the command still answers, saying how to set one up", async () => {
    const off = await startSlackBed({ imagine: { engineConfigured: false } });
    try {
      expect(await off.command("T1", "/imagine", "a cat", "U1")).toBe(IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
      expect(off.sim.messages("T1", "C1")).toEqual([]);
    } finally {
      await off.close();
    }
  });
});

describe("/imagine", () => {
  it("posts the request and a placeholder with Stop, uploads previews into the thread (each replacing the last), then the picture with its caption", async () => {
    const { ack, parent, placeholder } = await imagine("T1", "a red kite steps:6 seed:7");
    expect(ack.ackMs).toBeLessThan(3000);
    expect(parent.text).toBe("<@U1> asked for a picture:\n> a red kite");
    expect(placeholder.text).toMatch(/Starting your picture|Waiting/);
    expect(JSON.stringify(placeholder.blocks)).toContain(STOP_ACTION_ID);

    const final = await waitFor(() => {
      const m = bed.sim.message("T1", "C1", placeholder.ts);
      return done(m) ? m : undefined;
    }, WAIT);
    expect(final.text).toBe("a red kite\n64×64 · 6 steps · seed 7");
    // Uploads through the external flow, shared into the thread.
    const uploads = bed.sim.calls("files.getUploadURLExternal", "T1");
    expect(uploads.length).toBeGreaterThanOrEqual(2);
    const completes = bed.sim.calls("files.completeUploadExternal", "T1");
    expect(completes.every((c) => c.params.channel_id === "C1" && c.params.thread_ts === parent.ts)).toBe(true);
    // One picture is left in the thread: the result; every preview before it was taken away.
    await waitFor(() => liveShares("T1", "C1", parent.ts).length === 1, WAIT);
    const [share] = liveShares("T1", "C1", parent.ts);
    expect(share?.text).toBe("a red kite\n64×64 · 6 steps · seed 7");
    expect(share?.files?.[0]).toMatchObject({ name: "imagine-7.png", mimetype: "image/png", title: "a red kite" });
    const previews = uploads.slice(0, -1).map((c) => (c.response as { file_id: string }).file_id);
    expect(previews.length).toBeGreaterThanOrEqual(1);
    await waitFor(() => previews.every((id) => bed.sim.file(id)?.deleted), WAIT);
    // Remembered in the thread's conversation: a follow-up there can refer to it.
    // (The memory commit follows the final update.)
    const turns = await waitFor(async () => {
      const t = await bed.h.turns(`slack:T1:C1:${parent.ts}`);
      return t.length === 2 ? t : undefined;
    }, WAIT);
    expect(turns.map((t) => [t.role, t.text])).toEqual([
      ["user", "/imagine a red kite"],
      ["assistant", "[image: 64×64, seed 7, 6 steps] a red kite"],
    ]);
  });

  it("Stop interrupts the engine and keeps the last preview, marked stopped", async () => {
    engineSim.set({ stallAtStep: 3 });
    const interrupts = engineSim.interrupts;
    const { parent, placeholder } = await imagine("T1", "a slow kite steps:10 seed:9", "C2");
    await waitFor(() => liveShares("T1", "C2", parent.ts).length > 0, WAIT);
    const requestId = bed.sim.message("T1", "C2", placeholder.ts)?.blocks?.length
      ? JSON.stringify(bed.sim.message("T1", "C2", placeholder.ts)?.blocks).match(/"value":"([^"]+)"/)?.[1]
      : undefined;
    expect(requestId).toMatch(/^slack-T1-imagine-/);
    // Someone else may not stop it (only the asker or an admin); they are told so, privately.
    bed.sim.clickButton("T1", { channel: "C2", messageTs: placeholder.ts, actionId: STOP_ACTION_ID, value: requestId!, user: "U2" });
    const refusal = await waitFor(() => bed.sim.ephemerals("T1", "C2").find((e) => e.user === "U2"), WAIT);
    expect(refusal.text).toBe("Only <@U1> (who asked for this picture) or a workspace admin can stop it.");
    expect(engineSim.interrupts).toBe(interrupts);
    expect(done(bed.sim.message("T1", "C2", placeholder.ts))).toBe(false);
    bed.sim.clickButton("T1", { channel: "C2", messageTs: placeholder.ts, actionId: STOP_ACTION_ID, value: requestId!, user: "U1" });
    const final = await waitFor(() => {
      const m = bed.sim.message("T1", "C2", placeholder.ts);
      return done(m) ? m : undefined;
    }, WAIT);
    expect(final.text).toMatch(/stopped at step \d+\/10/);
    expect(engineSim.interrupts).toBeGreaterThan(interrupts);
    await waitFor(() => liveShares("T1", "C2", parent.ts).length === 1, WAIT);
    expect(liveShares("T1", "C2", parent.ts)[0]?.text).toMatch(/stopped at step/);
  });

  it("an upload Slack refuses (too large) ends with a note in the placeholder", async () => {
    const { placeholder } = await imagine("T2", "a huge kite steps:2 seed:1");
    const final = await waitFor(() => {
      const m = bed.sim.message("T2", "C1", placeholder.ts);
      return done(m) ? m : undefined;
    }, WAIT);
    expect(final.text).toContain("a huge kite");
    expect(final.text).toContain(IMAGINE_TEXT.uploadRefused.slice(0, 30));
  });
});

describe("SlackSink.showImage", () => {
  it("uploads at most one preview per SLACK_IMAGE_PREVIEW_INTERVAL_MS; the final picture always goes up", async () => {
    const { createSlackSink } = await import("../../adapters/slack/SlackSink.ts");
    const config = { ...bed.config, SLACK_IMAGE_PREVIEW_INTERVAL_MS: 60_000 };
    const sink = createSlackSink(config, bed.h.logger, bed.h.redis, bed.h.keys, { budgetWindowMs: 1000 });
    const parent = bed.sim.userMessage("T1", { channel: "C5", user: "U1", text: "thread" });
    const posted = await sink.post(
      { platform: "slack", channelId: "C5", threadId: parent.ts, messageId: parent.ts, workspaceId: "T1" },
      "…",
    );
    const target: ReplyTarget = { ...posted, requestId: "slack-T1-imagine-x" };
    const png = encodePng({ width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3).fill(128) });
    const image = { bytes: png, mime: "image/png" as const, alt: "grey", final: false };
    const before = bed.sim.calls("files.getUploadURLExternal", "T1").length;
    await sink.showImage(target, { ...image, filename: "preview-1.png", caption: "step 1/4" });
    await sink.showImage(target, { ...image, filename: "preview-2.png", caption: "step 2/4" });
    await sink.showImage(target, { ...image, filename: "imagine-1.png", caption: "grey\n8×8 · 4 steps · seed 1", final: true });
    const names = bed.sim
      .calls("files.getUploadURLExternal", "T1")
      .slice(before)
      .map((c) => c.params.filename);
    expect(names).toEqual(["preview-1.png", "imagine-1.png"]);
    expect(liveShares("T1", "C5", parent.ts).map((m) => m.files?.[0]?.name)).toEqual(["imagine-1.png"]);
    expect(bed.sim.message("T1", "C5", target.messageId)?.text).toBe("grey\n8×8 · 4 steps · seed 1");
  });

  it("a final update retried after a failed caption edit shares the picture once", async () => {
    const parent = bed.sim.userMessage("T1", { channel: "C6", user: "U1", text: "thread" });
    const posted = await bed.sink.post(
      { platform: "slack", channelId: "C6", threadId: parent.ts, messageId: parent.ts, workspaceId: "T1" },
      "…",
    );
    const target: ReplyTarget = { ...posted, requestId: "slack-T1-imagine-y" };
    const png = encodePng({ width: 8, height: 8, rgb: new Uint8Array(8 * 8 * 3).fill(64) });
    const final = {
      bytes: png,
      mime: "image/png" as const,
      alt: "dark",
      filename: "imagine-2.png",
      caption: "dark\n8×8 · 2 steps · seed 2",
      final: true,
    };
    bed.sim.failNext("chat.update", { status: 500 });
    await expect(bed.sink.showImage(target, final)).rejects.toThrow(/HTTP 500/);
    await bed.sink.showImage(target, final);
    expect(liveShares("T1", "C6", parent.ts).map((m) => m.files?.[0]?.name)).toEqual(["imagine-2.png"]);
    expect(bed.sim.message("T1", "C6", target.messageId)?.text).toBe("dark\n8×8 · 2 steps · seed 2");
  });
});
