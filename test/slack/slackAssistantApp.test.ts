/**
 * Slack as an AI app, end to end: the real Bolt App (Socket Mode) against the Slack simulator, a
 * real in-process worker on the tiny model streaming through the Slack sink, the real Redis —
 * native streams for `/ask`, mentions and DMs, the thread status, Stop mid-stream, a duplicate
 * delivery, and the assistant split view (greeting, suggested prompts, title, memory per thread),
 * also in a workspace whose token lacks `assistant:write`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { ASSISTANT_GREETING, assistantTitle, SUGGESTED_PROMPTS } from "../../adapters/slack/slackAssistant.ts";
import { renderSlackNote, STOP_ACTION_ID } from "../../adapters/slack/slackMessages.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import { escapeSlackMarkdown } from "../../src/text/escapeMentions.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { type SimMessage, SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const T1_TOKEN = "xoxb-T1-aiapptest";
const T2_TOKEN = "xoxb-T2-aiapptest";
const MAX_NEW_TOKENS = 300;
const GEN_TIMEOUT = 60_000;

let sim: SlackSimulator;
let runner: ModelRunner;
let h: Harness;
let adapter: SlackAdapter;
let memory: ConversationMemory;
const events: GenerationEvent[] = [];

beforeAll(async () => {
  sim = await SlackSimulator.start({
    teams: [{ id: "T1" }, { id: "T2", botUserId: "U2BOT", botId: "B2BOT" }],
    echoBotPosts: true,
    echoBotEdits: true,
  });
  // T2's token was installed before the app asked for assistant:write.
  sim.setScopes("T2", ["commands", "app_mentions:read", "chat:write", "channels:history", "im:history", "users:read"]);
  const config = await testConfig({
    SLACK_BOT_TOKEN: `${T1_TOKEN},${T2_TOKEN}`,
    SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-aiapptest",
    SLACK_API_URL: sim.apiUrl,
    MAX_NEW_TOKENS: String(MAX_NEW_TOKENS),
    STREAM_INTERVAL_MS: "100",
  });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  memory = new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS);
  const w = await h.startWorker({ sinks: { slack: createSlackSink(config, h.logger, h.redis, h.keys, { budgetWindowMs: 2000 }) } });
  w.worker.on("generation", (e) => events.push(e));
  adapter = await startSlackAdapter({ config, logger: h.logger, redis: h.redis, keys: h.keys, ingestor: h.ingestor, memory });
});

afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await runner?.close();
  await sim?.stop();
});

function generation(match: (e: GenerationEvent) => boolean): Promise<GenerationEvent> {
  return waitFor(() => events.find(match), GEN_TIMEOUT, { message: "generation" });
}

/** The final text of a streamed answer: the Markdown escaped as streamed, and the note under it. */
function streamedFinal(e: GenerationEvent, shown: string): string {
  const note = /\n\n_\(([^\n]*)\)_$/.exec(shown)?.[1];
  return escapeSlackMarkdown(e.result.text.trimStart()) + (note !== undefined ? escapeSlackMarkdown(renderSlackNote(note)) : "");
}

/** The bot's streamed answer in a thread, once stopped. */
function streamedAnswer(team: string, channel: string, threadTs: string): Promise<SimMessage> {
  return waitFor(() => sim.thread(team, channel, threadTs).find((m) => m.reply && m.stream?.state === "stopped"), GEN_TIMEOUT);
}

const startsIn = (team: string, threadTs: string) => sim.calls("chat.startStream", team).filter((c) => c.params.thread_ts === threadTs);

describe("native streams", () => {
  it("/ask: placeholder with Stop and 'is thinking…', then a stream for the asker; the final text is the stored turn; the placeholder goes", async () => {
    await sim.sendSlashCommand("T1", { command: "/ask", text: "What is Redis?", user_id: "U1", channel_id: "C1" }).waitAck();
    const parent = await waitFor(() => sim.messages("T1", "C1").find((m) => !m.reply && m.text.includes("What is Redis?")));
    const e = await generation((x) => x.request.conversationKey === `slack:T1:C1:${parent.ts}`);
    const answer = await streamedAnswer("T1", "C1", parent.ts);
    expect(answer.text).toBe(streamedFinal(e, answer.text));
    expect(answer.stream).toMatchObject({ recipientUserId: "U1", recipientTeamId: "T1" });
    expect(startsIn("T1", parent.ts)).toHaveLength(1);
    const turns = await memory.turns(e.request.conversationKey);
    expect(turns.map((t) => [t.role, t.text])).toEqual([
      ["user", "What is Redis?"],
      ["assistant", e.result.text],
    ]);
    // The placeholder served its Stop button while the answer streamed, and is gone now.
    const placeholder = sim.message("T1", "C1", e.request.reply.messageId)!;
    expect(placeholder.deleted).toBe(true);
    expect(placeholder.versions[0]).toBe("⏳ Thinking…");
    expect(sim.thread("T1", "C1", parent.ts).filter((m) => m.reply)).toEqual([answer]);
    // The thread showed "is thinking…" until the answer started (Slack clears it on the app's reply).
    expect(sim.assistantThread("T1", "C1", parent.ts)?.statusHistory).toContain("is thinking…");
  });

  it("a duplicate delivery (a retried envelope, and the message event of a mention) starts no second stream", async () => {
    const sent = sim.userMentions("T1", { channel: "C2", user: "U1", text: "retry me" });
    await sent.event.waitAck();
    await sim.redeliver(sent.event).waitAck();
    const e = await generation((x) => x.request.requestId === `slack-T1-C2-${sent.ts}`);
    await streamedAnswer("T1", "C2", sent.ts);
    await sim.redeliver(sent.event, { retryReason: "http_timeout" }).waitAck();
    await sim.redeliver(sent.messageEvent!).waitAck();
    const sentinel = sim.userMentions("T1", { channel: "C2", user: "U1", text: "sentinel", alsoMessageEvent: false });
    await generation((x) => x.request.requestId === `slack-T1-C2-${sentinel.ts}`);
    expect(events.filter((x) => x.request.conversationKey === e.request.conversationKey)).toHaveLength(1);
    expect(startsIn("T1", sent.ts)).toHaveLength(1);
    expect(sim.thread("T1", "C2", sent.ts, { includeDeleted: true }).filter((m) => m.user === "U0BOT")).toHaveLength(2);
  });

  it("Stop on the placeholder mid-stream stops the model; the stream ends marked as stopped", async () => {
    await sim.sendSlashCommand("T1", { command: "/ask", text: "tell me a very long story", user_id: "U1", channel_id: "C3" }).waitAck();
    const parent = await waitFor(() => sim.messages("T1", "C3").find((m) => !m.reply));
    const streaming = await waitFor(() => {
      const m = sim.thread("T1", "C3", parent.ts).find((x) => x.stream?.state === "streaming");
      return m && m.stream!.appends >= 1 ? m : undefined;
    }, GEN_TIMEOUT);
    const placeholder = sim.thread("T1", "C3", parent.ts).find((x) => x.reply && !x.stream)!;
    const button = (placeholder.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>).find(
      (b) => b.type === "actions",
    )!.elements![0]!;
    expect(button.action_id).toBe(STOP_ACTION_ID);
    const clickedAt = Date.now();
    const click = sim.clickButton("T1", {
      channel: "C3",
      messageTs: placeholder.ts,
      actionId: STOP_ACTION_ID,
      value: button.value,
      user: "U1",
    });
    await click.waitAck();
    const e = await generation((x) => x.request.requestId === button.value);
    expect(e.result.stopReason).toBe("abort");
    expect(e.result.generatedTokens).toBeLessThan(MAX_NEW_TOKENS);
    const answer = await streamedAnswer("T1", "C3", parent.ts);
    expect(answer.ts).toBe(streaming.ts);
    expect(answer.text.endsWith(escapeSlackMarkdown(renderSlackNote("stopped")))).toBe(true);
    expect(answer.text).toBe(streamedFinal(e, answer.text));
    const stoppedAt = sim.calls("chat.stopStream").find((c) => c.params.ts === streaming.ts)!.time;
    if (process.env.LOG_PACING) console.info("Stop click → stream stopped:", stoppedAt - clickedAt, "ms");
    expect(sim.message("T1", "C3", placeholder.ts)?.deleted).toBe(true);
  });
});

describe("the assistant split view", () => {
  it("greets with suggested prompts, titles the thread from the first question, streams answers, remembers within the thread only", async () => {
    const opened = sim.openAssistantThread("T1", { user: "U5", context: { channelId: "C1" } });
    const greeting = await waitFor(() => sim.thread("T1", opened.channel, opened.threadTs).find((m) => m.user === "U0BOT"));
    expect(greeting.text).toBe(ASSISTANT_GREETING);
    await waitFor(() => sim.assistantThread("T1", opened.channel, opened.threadTs)?.prompts);
    expect(sim.assistantThread("T1", opened.channel, opened.threadTs)!.prompts).toEqual(SUGGESTED_PROMPTS);

    const q1 = sim.userMessage("T1", {
      channel: opened.channel,
      user: "U5",
      text: "How do *hash maps* work, <@U9>?",
      threadTs: opened.threadTs,
    });
    const e1 = await generation((x) => x.request.requestId === `slack-T1-${opened.channel}-${q1.ts}`);
    expect(e1.request.conversationKey).toBe(`slack:T1:${opened.channel}:${opened.threadTs}`);
    const a1 = await streamedAnswer("T1", opened.channel, opened.threadTs);
    expect(a1.text).toBe(streamedFinal(e1, a1.text));
    await waitFor(() => sim.assistantThread("T1", opened.channel, opened.threadTs)?.title);
    expect(sim.assistantThread("T1", opened.channel, opened.threadTs)!.title).toBe(assistantTitle("How do *hash maps* work, <@U9>?"));

    const q2 = sim.userMessage("T1", { channel: opened.channel, user: "U5", text: "and collisions?", threadTs: opened.threadTs });
    const e2 = await generation((x) => x.request.requestId === `slack-T1-${opened.channel}-${q2.ts}`);
    expect(e1.request.text).toBe("How do *hash maps* work, @U9?");
    expect(e2.history.map((t) => t.text)).toEqual([e1.request.text, e1.result.text]);
    expect(sim.calls("assistant.threads.setTitle", "T1").filter((c) => c.params.thread_ts === opened.threadTs)).toHaveLength(1);

    // Another assistant thread is another conversation.
    const other = sim.openAssistantThread("T1", { user: "U5" });
    const q3 = sim.userMessage("T1", { channel: other.channel, user: "U5", text: "fresh start", threadTs: other.threadTs });
    const e3 = await generation((x) => x.request.requestId === `slack-T1-${other.channel}-${q3.ts}`);
    expect(e3.history).toEqual([]);
  });

  it("a token without assistant:write: prompts and titles are refused once and latched; questions are still streamed and answered", async () => {
    const opened = sim.openAssistantThread("T2", { user: "U7" });
    await waitFor(() => sim.thread("T2", opened.channel, opened.threadTs).find((m) => m.user === "U2BOT"));
    const q = sim.userMessage("T2", { channel: opened.channel, user: "U7", text: "still there?", threadTs: opened.threadTs });
    const e = await generation((x) => x.request.requestId === `slack-T2-${opened.channel}-${q.ts}`);
    const a = await streamedAnswer("T2", opened.channel, opened.threadTs);
    expect(a.text).toBe(streamedFinal(e, a.text));
    const again = sim.openAssistantThread("T2", { user: "U7" });
    await waitFor(() => sim.thread("T2", again.channel, again.threadTs).find((m) => m.user === "U2BOT"));
    const refused = sim
      .calls(undefined, "T2")
      .filter((c) => c.method === "assistant.threads.setSuggestedPrompts" || c.method === "assistant.threads.setTitle");
    expect(refused.map((c) => c.error)).toEqual(["missing_scope"]);
    expect(sim.assistantThread("T2", again.channel, again.threadTs)?.prompts).toBeUndefined();
  });
});
