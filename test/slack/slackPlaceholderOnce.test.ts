/**
 * The placeholder is posted once even when Slack saves it and still answers 500 (found by the
 * chaos run: the web client retried, and the first copy stayed "Thinking…" with a live Stop
 * button). The real Bolt App in Socket Mode against the Slack simulator, a real worker on the tiny
 * model, the real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outcomeUnknown } from "../../adapters/slack/postPlaceholderOnce.ts";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { type SimMessage, SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

let sim: SlackSimulator;
let runner: ModelRunner;
let h: Harness;
let adapter: SlackAdapter;
const events: GenerationEvent[] = [];

beforeAll(async () => {
  sim = await SlackSimulator.start({ teams: [{ id: "T1" }] });
  sim.addUser("T1", { id: "U1" });
  const config = await testConfig({
    SLACK_BOT_TOKEN: "xoxb-T1-once",
    SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-once",
    SLACK_API_URL: sim.apiUrl,
    SLACK_EDITS_PER_MINUTE: "1000",
    SLACK_STREAMING: "false",
  });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  const w = await h.startWorker({ sinks: { slack: createSlackSink(config, h.logger, h.redis, h.keys) } });
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

type Block = { type: string; elements?: Array<{ value: string }> };
const stopValue = (m: SimMessage) => (m.blocks as Block[] | undefined)?.find((b) => b.type === "actions")?.elements?.[0]?.value;

async function askThrough(text: string): Promise<{ requestId: string; replies: () => SimMessage[] }> {
  const sent = sim.userMentions("T1", { channel: "C0GENERAL", user: "U1", text, alsoMessageEvent: false });
  const requestId = `slack-T1-C0GENERAL-${sent.ts}`;
  await waitFor(() => events.find((e) => e.request.requestId === requestId), 40_000, { message: `the answer to ${text}` });
  const replies = () => sim.thread("T1", "C0GENERAL", sent.ts).filter((m) => m.user === "U0BOT");
  return { requestId, replies };
}

describe("a placeholder post that Slack answers with an error", () => {
  it("saved, then 500: the saved message is found and used — one placeholder, answered, no Stop left", async () => {
    sim.failNext("chat.postMessage", { status: 500, afterCommit: true });
    const { replies } = await askThrough("saved but 500");
    await waitFor(() => replies().every((m) => stopValue(m) === undefined), 10_000, { message: "the final edit" });
    expect(replies().length).toBe(1);
    expect(replies()[0]!.text).not.toContain("Thinking");
  }, 60_000);

  it("not saved, 500: posted again — still one placeholder, answered", async () => {
    sim.failNext("chat.postMessage", { status: 500 });
    const { replies } = await askThrough("not saved, 500");
    await waitFor(() => replies().every((m) => stopValue(m) === undefined), 10_000, { message: "the final edit" });
    expect(replies().length).toBe(1);
  }, 60_000);

  it("tells an unknown outcome (5xx, network) from a refusal", () => {
    expect(outcomeUnknown({ code: "slack_webapi_http_error", statusCode: 502 })).toBe(true);
    expect(outcomeUnknown({ code: "slack_webapi_request_error" })).toBe(true);
    expect(outcomeUnknown({ code: "slack_webapi_http_error", statusCode: 400 })).toBe(false);
    expect(outcomeUnknown({ code: "slack_webapi_platform_error", data: { error: "channel_not_found" } })).toBe(false);
  });
});
