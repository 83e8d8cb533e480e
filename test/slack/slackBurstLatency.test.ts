/**
 * Twelve questions at once in one Slack workspace on the `chat.update` path (no native streams),
 * with Slack's real edit budget (SLACK_EDITS_PER_MINUTE=50 over a real minute, chat.update Tier 3
 * enforced by the simulator): the real Bolt App, a real worker on the tiny model, the real Redis.
 * Each reply's first text takes priority over further edits of replies already showing text, so
 * every asker sees an answer start soon. The figures (first visible text after sending: median,
 * worst) are logged; the assertions are on order and budget, never on time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { PLACEHOLDER_TEXT } from "../../adapters/slack/slackMessages.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const QUESTIONS = 12;

let sim: SlackSimulator;
let runner: ModelRunner;
let h: Harness;
let adapter: SlackAdapter;
const events: GenerationEvent[] = [];
const offered = new Map<string, number>();

beforeAll(async () => {
  sim = await SlackSimulator.start({ rateTiers: "all" });
  const config = await testConfig({
    SLACK_BOT_TOKEN: "xoxb-T1-burst",
    SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-burst",
    SLACK_API_URL: sim.apiUrl,
    SLACK_EDITS_PER_MINUTE: "50",
    MAX_NEW_TOKENS: "300",
    SLACK_STREAMING: "false",
  });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  const memory = new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS);
  const sink = createSlackSink(config, h.logger, h.redis, h.keys);
  // When the worker first had text for a reply (what the budget then delays, or not).
  const edit = sink.edit.bind(sink);
  sink.edit = (target, text, opts) => {
    if (!offered.has(target.messageId)) offered.set(target.messageId, Date.now());
    return edit(target, text, opts);
  };
  const w = await h.startWorker({ sinks: { slack: sink } });
  w.worker.on("generation", (e) => events.push(e));
  adapter = await startSlackAdapter({ config, logger: h.logger, redis: h.redis, keys: h.keys, ingestor: h.ingestor, memory });
});

afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await runner?.close();
  await sim?.stop();
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const isText = (t: unknown) => typeof t === "string" && t !== PLACEHOLDER_TEXT && !t.startsWith("⏳");

describe("twelve questions at once in one workspace", () => {
  it("every reply shows its first text before replies that already show text get further edits; the budget holds", async () => {
    const sent = Array.from({ length: QUESTIONS }, (_, i) => {
      const at = Date.now();
      const m = sim.userMentions("T1", { channel: `CB${i}`, user: `UB${i}`, text: `question number ${i}`, alsoMessageEvent: false });
      return { channel: `CB${i}`, ts: m.ts, at };
    });
    const placeholders = await waitFor(() => {
      const found = sent.map((s) => sim.thread("T1", s.channel, s.ts).find((m) => m.user === "U0BOT"));
      return found.every(Boolean) ? found.map((m) => m!.ts) : undefined;
    }, 60_000);
    const firstText = await waitFor(
      () => {
        const updates = sim.calls("chat.update").filter((c) => c.status === 200 && isText(c.params.text));
        const firsts = placeholders.map((ts) => updates.find((c) => c.params.ts === ts));
        return firsts.every(Boolean) ? firsts.map((c) => c!) : undefined;
      },
      180_000,
      { message: "every reply's first text" },
    );
    const latencies = firstText.map((c, i) => (c.time - sent[i]!.at) / 1000);
    const ready = placeholders.map((ts, i) => ((offered.get(ts) ?? Number.NaN) - sent[i]!.at) / 1000);
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} s, worst ${Math.max(...xs).toFixed(1)} s`;
    console.log(`slack burst: ${QUESTIONS} questions; first text ready (generated): ${fmt(ready)}; first visible text: ${fmt(latencies)}`);
    // First texts before follow-up edits: once a reply had text, at most the edits already on their
    // way went out for other replies before its own first text (no queue of reserved slots ahead of it).
    const edits = sim.calls("chat.update").filter((c) => c.status === 200);
    placeholders.forEach((ts, i) => {
      const from = offered.get(ts)!;
      const jumped = edits.filter((c) => c.time > from && c.time < firstText[i]!.time && !firstText.includes(c));
      expect(jumped.length, `edits of other replies before reply ${i}'s first text`).toBeLessThanOrEqual(2);
    });
    // Within Slack's limit the whole time: no 429 on chat.update.
    expect(sim.calls("chat.update").filter((c) => c.status === 429)).toEqual([]);
  }, 240_000);
});
