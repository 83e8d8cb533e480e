/**
 * The Stop button really stops the model: the real Bolt App in Socket Mode against the Slack
 * simulator, a real worker on the tiny model with a large token budget, the real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { renderSlackNote, STOP_ACTION_ID, slackReplyText } from "../../adapters/slack/slackMessages.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { type SimMessage, SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const MAX_NEW_TOKENS = 400;

let sim: SlackSimulator;
let runner: ModelRunner;
let h: Harness;
let adapter: SlackAdapter;
let memory: ConversationMemory;
const events: GenerationEvent[] = [];

beforeAll(async () => {
  sim = await SlackSimulator.start({ echoBotEdits: true });
  const config = await testConfig({
    SLACK_BOT_TOKEN: "xoxb-T1-stoptest",
    SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-stoptest",
    SLACK_API_URL: sim.apiUrl,
    SLACK_EDITS_PER_MINUTE: "1000",
    MAX_NEW_TOKENS: String(MAX_NEW_TOKENS),
    STREAM_INTERVAL_MS: "100",
    // The chat.update path (native streams: slackStreaming.test.ts, slackAssistantApp.test.ts).
    SLACK_STREAMING: "false",
  });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  memory = new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS);
  const w = await h.startWorker({ sinks: { slack: createSlackSink(config, h.logger, h.redis, h.keys) } });
  w.worker.on("generation", (e) => events.push(e));
  adapter = await startSlackAdapter({ config, logger: h.logger, redis: h.redis, keys: h.keys, ingestor: h.ingestor, memory });
});

afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await runner?.close();
  await sim?.stop();
});

type Block = { type: string; elements?: Array<{ action_id: string; value: string }> };

/** /ask, then wait until the answer is visibly streaming (a partial text with the Stop button). */
async function askAndWaitForStreaming(channel: string, text: string): Promise<{ reply: SimMessage; requestId: string }> {
  await sim.sendSlashCommand("T1", { command: "/ask", text, user_id: "U1", channel_id: channel }).waitAck();
  const parent = await waitFor(() => sim.messages("T1", channel).find((m) => !m.reply));
  const reply = await waitFor(() => {
    const m = sim.thread("T1", channel, parent.ts).find((x) => x.reply);
    return m && m.edits >= 1 && (m.blocks?.length ?? 0) > 0 ? m : undefined;
  }, 20_000);
  const button = (reply.blocks as Block[]).find((b) => b.type === "actions")!.elements![0]!;
  expect(button.action_id).toBe(STOP_ACTION_ID);
  return { reply, requestId: button.value };
}

async function stopped(requestId: string, channel: string, ts: string): Promise<{ event: GenerationEvent; final: SimMessage }> {
  const event = await waitFor(() => events.find((e) => e.request.requestId === requestId), 30_000);
  const final = await waitFor(() => {
    const m = sim.message("T1", channel, ts);
    return m?.blocks?.length === 0 ? m : undefined;
  });
  return { event, final };
}

describe("Stop", () => {
  it("clicking Stop aborts generation: fewer tokens than the limit, the partial answer stays, marked as stopped", async () => {
    const { reply, requestId } = await askAndWaitForStreaming("C1", "tell me a very long story");
    const click = sim.clickButton("T1", { channel: "C1", messageTs: reply.ts, actionId: STOP_ACTION_ID, value: requestId, user: "U1" });
    await click.waitAck();
    const { event, final } = await stopped(requestId, "C1", reply.ts);
    expect(event.result.stopReason).toBe("abort");
    expect(event.result.generatedTokens).toBeLessThan(MAX_NEW_TOKENS);
    expect(final.text).toBe(slackReplyText(event.result.text + renderSlackNote("stopped")));
    expect(final.text.endsWith("_(stopped)_")).toBe(true);
    // The partial answer is the stored turn; the Stop button is gone.
    const turns = await memory.turns(event.request.conversationKey);
    expect(turns.at(-1)).toMatchObject({ role: "assistant", text: event.result.text });
    expect(final.blocks).toEqual([]);
    // The bot's own edits came back as message_changed events and started nothing.
    expect(events.filter((e) => e.request.conversationKey === event.request.conversationKey)).toHaveLength(1);
  });

  it("a Stop click without a value finds the request from the clicked message", async () => {
    const { reply, requestId } = await askAndWaitForStreaming("C2", "another long story please");
    await sim.clickButton("T1", { channel: "C2", messageTs: reply.ts, actionId: STOP_ACTION_ID, user: "U1" }).waitAck();
    const { event } = await stopped(requestId, "C2", reply.ts);
    expect(event.result.stopReason).toBe("abort");
    expect(event.result.generatedTokens).toBeLessThan(MAX_NEW_TOKENS);
  });
});
