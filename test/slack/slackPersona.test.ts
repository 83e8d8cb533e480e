/**
 * Settings and context on Slack end to end: an admin gives a channel a persona and a reply budget
 * with `/ask-settings`, a plain member mentions the bot there with a text file — the real Bolt app
 * against the Slack simulator, a real worker on the tiny model answering through the SlackSink.
 * The worker answers with the channel's settings and sees the file; another channel keeps the
 * defaults; a thread the bot did not start comes with its earlier messages.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { GenerateParams, ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const PERSONA = "You are Captain Hook, a pirate.";
let sim: SlackSimulator;
let runner: ModelRunner;
let h: Harness;
let adapter: SlackAdapter;
const calls: GenerateParams[] = [];
const events: GenerationEvent[] = [];

beforeAll(async () => {
  sim = await SlackSimulator.start({ teams: [{ id: "T1" }] });
  sim.addUser("T1", { id: "UADMIN", name: "ada", isAdmin: true });
  sim.addUser("T1", { id: "UANN", name: "ann" });
  const config = await testConfig({
    SLACK_BOT_TOKEN: "xoxb-T1-personatest",
    SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-personatest",
    SLACK_API_URL: sim.apiUrl,
    SLACK_STREAMING: "false",
    MAX_NEW_TOKENS: "12",
    STREAM_INTERVAL_MS: "100",
  });
  runner = await loadTinyRunner(config);
  const generate = runner.generate.bind(runner);
  runner.generate = (p) => {
    calls.push(p);
    return generate(p);
  };
  h = new Harness(config, runner);
  const w = await h.startWorker({ sinks: { slack: createSlackSink(config, h.logger, h.redis, h.keys, { budgetWindowMs: 1000 }) } });
  w.worker.on("generation", (e) => events.push(e));
  const memory = new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS);
  adapter = await startSlackAdapter({ config, logger: h.logger, redis: h.redis, keys: h.keys, ingestor: h.ingestor, memory });
});

afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await runner?.close();
  await sim?.stop();
});

async function settings(text: string, channel = "C1"): Promise<string> {
  const before = sim.ephemerals("T1").length;
  await sim.sendSlashCommand("T1", { command: "/ask-settings", text, user_id: "UADMIN", channel_id: channel }).waitAck(5000);
  return (await waitFor(() => sim.ephemerals("T1")[before], 10_000)).text;
}

const answered = (requestId: string) =>
  waitFor(() => events.find((e) => e.request.requestId === requestId), 60_000, { message: requestId });
const paramsOf = (e: GenerationEvent) => calls.find((p) => p.conversationKey === e.request.conversationKey)!;

describe("a channel's persona and limits, set with /ask-settings", () => {
  it("apply to the next mention there, with its file read into the question; another channel keeps the defaults", async () => {
    expect(await settings(`set system-prompt ${PERSONA}`)).toMatch(/^system-prompt is now/);
    expect(await settings("set max-new-tokens 3")).toMatch(/^max-new-tokens is now 3/);
    const m = sim.userMentions("T1", {
      channel: "C1",
      user: "UANN",
      text: "what is the secret word?",
      files: [{ name: "notes.txt", content: "The secret word is platypus." }],
    });
    const e = await answered(`slack-T1-C1-${m.ts}`);
    expect(paramsOf(e)).toMatchObject({ systemPrompt: PERSONA, maxTokens: 3 });
    expect(e.result.generatedTokens).toBeLessThanOrEqual(3);
    expect(paramsOf(e).userText).toContain("[File notes.txt (28 bytes)]");
    expect(paramsOf(e).userText).toContain("The secret word is platypus.");
    // The reply was delivered in the thread (the Stop button gone).
    await waitFor(() => sim.thread("T1", "C1", m.ts).find((r) => r.bot_id && Array.isArray(r.blocks) && r.blocks.length === 0), 30_000);

    const other = sim.userMentions("T1", { channel: "C2", user: "UANN", text: "hello" });
    const e2 = await answered(`slack-T1-C2-${other.ts}`);
    expect(paramsOf(e2)).toMatchObject({ systemPrompt: h.config.SYSTEM_PROMPT, maxTokens: 12 });
  });

  it("a mention in someone else's thread shows the model the thread's earlier messages", async () => {
    const parent = sim.userMessage("T1", { channel: "C3", user: "UADMIN", text: "Release moves to Friday." });
    const m = sim.userMentions("T1", { channel: "C3", user: "UANN", text: "when is the release?", threadTs: parent.ts });
    const e = await answered(`slack-T1-C3-${m.ts}`);
    expect(paramsOf(e).userText).toContain("[Earlier messages in this thread]\nada: Release moves to Friday.");
    expect(paramsOf(e).userText).toMatch(/\[Message\]\n.*when is the release\?$/);
  });
});
