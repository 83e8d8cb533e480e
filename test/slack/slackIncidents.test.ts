/**
 * Slack when things go wrong (issue 12): an admin deletes an answer while it streams, Stop pressed
 * by someone else or while the message waits, a workspace without its own token, DMs as one
 * conversation, a file without a question, an edited question. The real Bolt App in Socket Mode
 * against the Slack simulator, a real worker on the tiny model (chat.update path), the real Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EDITED_QUESTION_NOTE } from "../../adapters/slack/SlackMessageChanges.ts";
import { createSlackSink } from "../../adapters/slack/SlackSink.ts";
import { STOPPED_BEFORE_START } from "../../adapters/slack/SlackStopButton.ts";
import { STOP_ACTION_ID } from "../../adapters/slack/slackMessages.ts";
import { FILES_ONLY_TEXT } from "../../adapters/slack/slackRequestContext.ts";
import { type SlackAdapter, startSlackAdapter } from "../../adapters/slack/startSlackAdapter.ts";
import { ConversationMemory } from "../../src/memory/ConversationMemory.ts";
import type { ChatRequest } from "../../src/types.ts";
import type { GenerationEvent, WorkerResult } from "../../workers/ChatWorker.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";
import { type SimMessage, SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const MAX_NEW_TOKENS = 400;
const GEN_TIMEOUT = 40_000;

let sim: SlackSimulator;
let runner: ModelRunner;
let h: Harness;
let adapter: SlackAdapter;
let memory: ConversationMemory;
const events: GenerationEvent[] = [];
const goneEvents: Array<{ request: ChatRequest; result: WorkerResult | undefined }> = [];

beforeAll(async () => {
  // T3 has the app installed but no token of its own in SLACK_BOT_TOKEN.
  sim = await SlackSimulator.start({ teams: [{ id: "T1" }, { id: "T3" }], echoBotPosts: true, echoBotEdits: true });
  sim.addUser("T1", { id: "UADMIN", isAdmin: true });
  sim.addUser("T1", { id: "U1" });
  sim.addUser("T1", { id: "U2" });
  const config = await testConfig({
    SLACK_BOT_TOKEN: "xoxb-T1-incidents",
    SLACK_APP_TOKEN: "xapp-1-A0SIMAPP-incidents",
    SLACK_API_URL: sim.apiUrl,
    SLACK_EDITS_PER_MINUTE: "1000",
    MAX_NEW_TOKENS: String(MAX_NEW_TOKENS),
    STREAM_INTERVAL_MS: "100",
    SLACK_STREAMING: "false",
  });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  memory = new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS);
  const w = await h.startWorker({ sinks: { slack: createSlackSink(config, h.logger, h.redis, h.keys) } });
  w.worker.on("generation", (e) => events.push(e));
  w.worker.on("gone", (request, result) => goneEvents.push({ request, result }));
  adapter = await startSlackAdapter({ config, logger: h.logger, redis: h.redis, keys: h.keys, ingestor: h.ingestor, memory });
});

afterAll(async () => {
  await adapter?.close();
  await h?.close();
  await runner?.close();
  await sim?.stop();
});

const generation = (requestId: string) =>
  waitFor(() => events.find((e) => e.request.requestId === requestId), GEN_TIMEOUT, { message: `generation ${requestId}` });
const bot = (m: SimMessage) => m.user === "U0BOT";
type Block = { type: string; elements?: Array<{ action_id: string; value: string }> };
const stopValue = (m: SimMessage) => (m.blocks as Block[] | undefined)?.find((b) => b.type === "actions")?.elements?.[0]?.value;

/** A mention in `channel`; resolves with its placeholder once it shows streamed text. */
async function mentionStreaming(channel: string, user: string, text: string, threadTs?: string) {
  const sent = sim.userMentions("T1", { channel, user, text, alsoMessageEvent: false, ...(threadTs ? { threadTs } : {}) });
  const requestId = `slack-T1-${channel}-${sent.ts}`;
  const reply = await waitFor(
    () => {
      const m = sim.thread("T1", channel, threadTs ?? sent.ts).find((x) => bot(x) && stopValue(x) === requestId);
      return m && m.edits >= 1 && m.text !== "⏳ Thinking…" ? m : undefined;
    },
    GEN_TIMEOUT,
    { message: `the streaming reply to ${text}` },
  );
  return { sent, requestId, reply };
}

describe("an admin deletes the answer while it streams", () => {
  it("generation stops, nothing more is posted in the thread, nothing of it is remembered", async () => {
    const { sent, requestId, reply } = await mentionStreaming("C1", "U1", "tell me a very long story");
    const conversationKey = `slack:T1:C1:${sent.ts}`;
    await sim.deleteMessage("T1", { channel: "C1", ts: reply.ts, by: "UADMIN" }).waitAck();
    const gone = await waitFor(() => goneEvents.find((g) => g.request.requestId === requestId), GEN_TIMEOUT);
    expect(gone.result?.generatedTokens ?? 0).toBeLessThan(MAX_NEW_TOKENS);
    // A sentinel in the same thread is answered after it: by then the stopped reply has long settled.
    const next = sim.userMentions("T1", { channel: "C1", user: "U1", text: "next one", threadTs: sent.ts, alsoMessageEvent: false });
    const e = await generation(`slack-T1-C1-${next.ts}`);
    const nextReply = sim.thread("T1", "C1", sent.ts).find((m) => bot(m) && stopValue(m) === undefined && m.ts !== reply.ts);
    // Nothing of the deleted answer came back: the only bot message left in the thread is the next answer.
    const left = sim.thread("T1", "C1", sent.ts).filter(bot);
    expect(left).toHaveLength(1);
    expect(left[0]!.ts).not.toBe(reply.ts);
    expect(nextReply?.ts).toBe(left[0]!.ts);
    expect(events.some((x) => x.request.requestId === requestId)).toBe(false);
    // The deleted exchange is not in memory: the next answer saw no history.
    expect(e.history).toEqual([]);
    const turns = await memory.turns(conversationKey);
    expect(turns.filter((t) => t.role === "user").map((t) => t.text)).toEqual(["next one"]);
  });
});

describe("message_deleted", () => {
  it("a waiting reply's placeholder deleted by an admin: the deletion event alone stops it (no edit needed), nothing is posted", async () => {
    const first = await mentionStreaming("C4", "U1", "a long first answer");
    const second = sim.userMentions("T1", { channel: "C4", user: "U1", text: "second", threadTs: first.sent.ts, alsoMessageEvent: false });
    const secondId = `slack-T1-C4-${second.ts}`;
    const placeholder = await waitFor(() => sim.thread("T1", "C4", first.sent.ts).find((m) => bot(m) && stopValue(m) === secondId));
    await waitFor(async () => (await h.redis.exists(h.keys.request(secondId))) === 1); // attached
    await sim.deleteMessage("T1", { channel: "C4", ts: placeholder.ts, by: "UADMIN" }).waitAck();
    // Marked gone while the first answer is still being written: the event did it, not an edit.
    await waitFor(async () => (await h.redis.exists(h.keys.gone(secondId))) === 1);
    expect(events.some((e) => e.request.requestId === first.requestId)).toBe(false);
    await sim
      .clickButton("T1", { channel: "C4", messageTs: first.reply.ts, actionId: STOP_ACTION_ID, value: first.requestId, user: "U1" })
      .waitAck();
    await generation(first.requestId);
    const third = sim.userMentions("T1", { channel: "C4", user: "U1", text: "third", threadTs: first.sent.ts, alsoMessageEvent: false });
    await generation(`slack-T1-C4-${third.ts}`);
    expect(events.some((e) => e.request.requestId === secondId)).toBe(false);
    expect(sim.calls("chat.update").some((c) => c.params.ts === placeholder.ts)).toBe(false);
  });
});

describe("Stop", () => {
  it("by someone else is refused privately; a workspace admin may stop it", async () => {
    const { requestId, reply } = await mentionStreaming("C2", "U1", "a long tale please");
    await sim.clickButton("T1", { channel: "C2", messageTs: reply.ts, actionId: STOP_ACTION_ID, value: requestId, user: "U2" }).waitAck();
    const refusal = await waitFor(() => sim.ephemerals("T1", "C2").find((x) => x.user === "U2"));
    expect(refusal.text).toContain("Only <@U1>, who asked");
    expect(sim.message("T1", "C2", reply.ts)?.blocks?.length).toBeGreaterThan(0); // still streaming
    await sim
      .clickButton("T1", { channel: "C2", messageTs: reply.ts, actionId: STOP_ACTION_ID, value: requestId, user: "UADMIN" })
      .waitAck();
    const e = await generation(requestId);
    expect(e.result.stopReason).toBe("abort");
    expect(e.result.generatedTokens).toBeLessThan(MAX_NEW_TOKENS);
  });

  it("while the message waits in line: it leaves the line, its placeholder says so at once", async () => {
    const first = await mentionStreaming("C3", "U1", "the first long answer");
    const second = sim.userMentions("T1", { channel: "C3", user: "U1", text: "second", threadTs: first.sent.ts, alsoMessageEvent: false });
    const secondId = `slack-T1-C3-${second.ts}`;
    const placeholder = await waitFor(() => sim.thread("T1", "C3", first.sent.ts).find((m) => bot(m) && stopValue(m) === secondId));
    // Posted showing its place in line, not "Thinking…".
    expect(placeholder.versions[0]).toBe("⏳ Waiting — 1 message ahead of yours in this conversation…");
    await sim
      .clickButton("T1", { channel: "C3", messageTs: placeholder.ts, actionId: STOP_ACTION_ID, value: secondId, user: "U1" })
      .waitAck();
    const stopped = await waitFor(() => {
      const m = sim.message("T1", "C3", placeholder.ts);
      return m?.text === STOPPED_BEFORE_START && m.blocks?.length === 0 ? m : undefined;
    });
    // The first answer was still being written when the second showed it was stopped.
    expect(events.some((e) => e.request.requestId === first.requestId)).toBe(false);
    expect(stopped.text).toBe(STOPPED_BEFORE_START);
    await sim
      .clickButton("T1", { channel: "C3", messageTs: first.reply.ts, actionId: STOP_ACTION_ID, value: first.requestId, user: "U1" })
      .waitAck();
    await generation(first.requestId);
    // A sentinel after both: the stopped message was never generated.
    const third = sim.userMentions("T1", { channel: "C3", user: "U1", text: "third", threadTs: first.sent.ts, alsoMessageEvent: false });
    await generation(`slack-T1-C3-${third.ts}`);
    expect(events.some((e) => e.request.requestId === secondId)).toBe(false);
  });
});

describe("workspaces", () => {
  it("a workspace without its own token gets no answer, and nothing is posted anywhere with another's token", async () => {
    const posts = sim.calls("chat.postMessage").length;
    const sent = sim.userMentions("T3", { channel: "C9", user: "U1", text: "hello from T3" });
    await sent.event.waitAck();
    // A sentinel in T1 afterwards is answered: by then T3's mention was handled (and refused).
    const sentinel = sim.userMentions("T1", { channel: "C8", user: "U1", text: "sentinel", alsoMessageEvent: false });
    await generation(`slack-T1-C8-${sentinel.ts}`);
    expect(sim.messages("T3", "C9").filter(bot)).toEqual([]);
    expect(sim.messages("T1", "C9")).toEqual([]);
    expect(
      sim
        .calls("chat.postMessage")
        .slice(posts)
        .every((c) => c.params.channel === "C8"),
    ).toBe(true);
    expect(await h.redis.exists(h.keys.request(`slack-T3-C9-${sent.ts}`))).toBe(0);
  });
});

describe("DMs, files and edits", () => {
  it("a DM is one conversation across top-level messages and the bot's threads; reset forgets it", async () => {
    const a = sim.userMessage("T1", { channel: "D5", user: "U5", text: "my name is Ada" });
    const ea = await generation(`slack-T1-D5-${a.ts}`);
    expect(ea.request.conversationKey).toBe("slack:T1:D5:dm");
    expect(ea.request.reply.threadId).toBe(a.ts);
    const b = sim.userMessage("T1", { channel: "D5", user: "U5", text: "what is my name?" });
    const eb = await generation(`slack-T1-D5-${b.ts}`);
    expect(eb.history.map((t) => t.text)).toEqual(["my name is Ada", ea.result.text]);
    const c = sim.userMessage("T1", { channel: "D5", user: "U5", text: "in the thread", threadTs: a.ts });
    const ec = await generation(`slack-T1-D5-${c.ts}`);
    expect(ec.request.conversationKey).toBe("slack:T1:D5:dm");
    expect(ec.history).toHaveLength(4);
    const r = sim.userMessage("T1", { channel: "D5", user: "U5", text: "reset" });
    await waitFor(() => sim.thread("T1", "D5", r.ts).find((m) => bot(m) && m.text === "🧹 Done — I've forgotten our conversation."));
    const d = sim.userMessage("T1", { channel: "D5", user: "U5", text: "fresh start" });
    expect((await generation(`slack-T1-D5-${d.ts}`)).history).toEqual([]);
  });

  it("a DM with only a file is answered about the file, in the DM's conversation; an empty DM is told to write", async () => {
    const f = sim.userMessage("T1", { channel: "D6", user: "U6", text: "", files: [{ name: "notes.txt", content: "hello there" }] });
    const e = await generation(`slack-T1-D6-${f.ts}`);
    expect(e.request.text).toBe(FILES_ONLY_TEXT);
    expect(e.request.conversationKey).toBe("slack:T1:D6:dm");
    const empty = sim.userMessage("T1", { channel: "D6", user: "U6", text: " " });
    const told = await waitFor(() => sim.ephemerals("T1", "D6").find((x) => x.user === "U6"));
    expect(told.text).toMatch(/^Your message is empty — write your question/);
    expect(await h.redis.exists(h.keys.request(`slack-T1-D6-${empty.ts}`))).toBe(0);
  });

  it("an edited question keeps its answer to the original; the asker is told once", async () => {
    const q = sim.userMentions("T1", { channel: "C6", user: "U1", text: "first wording", alsoMessageEvent: false });
    await generation(`slack-T1-C6-${q.ts}`);
    const edit = sim.userEdits("T1", { channel: "C6", ts: q.ts, text: `<@U0BOT> second wording` });
    await edit.waitAck();
    await sim.redeliver(edit).waitAck();
    const note = await waitFor(() => sim.ephemerals("T1", "C6").find((x) => x.user === "U1"));
    expect(note.text).toBe(EDITED_QUESTION_NOTE);
    expect(note.thread_ts).toBe(q.ts);
    const sentinel = sim.userMentions("T1", { channel: "C6", user: "U1", text: "sentinel", alsoMessageEvent: false });
    await generation(`slack-T1-C6-${sentinel.ts}`);
    expect(sim.ephemerals("T1", "C6").filter((x) => x.user === "U1")).toHaveLength(1);
    expect(events.filter((e) => e.request.conversationKey === `slack:T1:C6:${q.ts}`)).toHaveLength(1);
  });
});
