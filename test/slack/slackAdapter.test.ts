/**
 * The Slack adapter end to end: the real Bolt App in Socket Mode against the Slack simulator, a
 * real in-process worker on the tiny model streaming through the Slack sink, the real Redis.
 * The simulator echoes the bot's own posts and edits back as events, as Slack does.
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

const T1_TOKEN = "xoxb-T1-adaptertest";
const T2_TOKEN = "xoxb-T2-adaptertest";
const APP_TOKEN = "xapp-1-A0SIMAPP-adaptertest";
/** The budget window is shrunk from a minute to this, so "SLACK_EDITS_PER_MINUTE" edits per 2 s. */
const BUDGET_WINDOW_MS = 2000;
const EDITS_PER_WINDOW = 10;
const GEN_TIMEOUT = 30_000;

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
  const config = await testConfig({
    SLACK_BOT_TOKEN: `${T1_TOKEN},${T2_TOKEN}`,
    SLACK_APP_TOKEN: APP_TOKEN,
    SLACK_API_URL: sim.apiUrl,
    SLACK_EDITS_PER_MINUTE: String(EDITS_PER_WINDOW),
    MAX_NEW_TOKENS: "40",
    STREAM_INTERVAL_MS: "100",
    // The chat.update path (native streams: slackStreaming.test.ts, slackAssistantApp.test.ts).
    SLACK_STREAMING: "false",
  });
  runner = await loadTinyRunner(config);
  h = new Harness(config, runner);
  memory = new ConversationMemory(h.redis, h.keys, config.MEMORY_TTL_SECONDS);
  const sink = createSlackSink(config, h.logger, h.redis, h.keys, { budgetWindowMs: BUDGET_WINDOW_MS });
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

function generation(requestId: string | ((e: GenerationEvent) => boolean)): Promise<GenerationEvent> {
  const match = typeof requestId === "string" ? (e: GenerationEvent) => e.request.requestId === requestId : requestId;
  return waitFor(() => events.find(match), GEN_TIMEOUT, { message: `generation ${String(requestId)}` });
}

/** The final text a reply must show: the stored answer, and the note under it when there is one. */
function expectedFinal(answer: string, shown: string): string {
  const note = /\n\n_\(([^\n]*)\)_$/.exec(shown)?.[1];
  return slackReplyText(answer + (note !== undefined ? renderSlackNote(note) : ""));
}

async function finalReply(team: string, channel: string, ts: string): Promise<SimMessage> {
  return waitFor(() => {
    const m = sim.message(team, channel, ts);
    return m && m.blocks !== undefined && m.blocks.length === 0 ? m : undefined;
  }, GEN_TIMEOUT);
}

async function askInThread(team: string, channel: string, user: string, text: string) {
  const envelope = sim.sendSlashCommand(team, {
    command: "/ask",
    text,
    user_id: user,
    user_name: `${user.toLowerCase()}-name`,
    channel_id: channel,
  });
  const ack = await envelope.waitAck(5000);
  const botUser = sim.botUserIdFor(team);
  const parent = await waitFor(() =>
    sim
      .messages(team, channel)
      .find((m) => !m.reply && m.user === botUser && m.text.includes(`<@${user}> asked:`) && m.text.includes(text)),
  );
  const placeholder = await waitFor(() => sim.thread(team, channel, parent.ts).find((m) => m.reply && m.user === botUser));
  return { envelope, ack, parent, placeholder, conversationKey: `slack:${team}:${channel}:${parent.ts}` };
}

describe("/ask", () => {
  let first: Awaited<ReturnType<typeof askInThread>>;
  let firstEvent: GenerationEvent;

  it("acks at once, posts the question as a thread parent, streams the answer into the thread; the final text is the stored turn", async () => {
    expect(adapter.mode).toBe("socket");
    expect(adapter.ready()).toBe(true);
    first = await askInThread("T1", "C1", "U1", "What is **Redis**?");
    // Acked before the handler called any Web API method, well inside Slack's 3 s.
    expect(first.ack.ackMs).toBeLessThan(3000);
    expect(first.ack.payload === undefined || !("text" in (first.ack.payload as object))).toBe(true);
    const posts = sim.calls("chat.postMessage", "T1").filter((c) => c.params.channel === "C1");
    expect(first.ack.at).toBeLessThanOrEqual(posts[0]!.time);
    expect(first.parent.text).toBe("<@U1> asked:\n> What is **Redis**?");
    expect(first.placeholder.thread_ts).toBe(first.parent.ts);

    firstEvent = await generation((e) => e.request.conversationKey === first.conversationKey);
    expect(firstEvent.request.text).toBe("What is **Redis**?");
    expect(firstEvent.request.author).toEqual({ id: "U1", name: "u1-name" });
    expect(firstEvent.history).toEqual([]);
    const reply = await finalReply("T1", "C1", first.placeholder.ts);
    const turns = await memory.turns(first.conversationKey);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant"]);
    expect(turns[1]!.text).toBe(firstEvent.result.text);
    expect(reply.text).toBe(expectedFinal(turns[1]!.text, reply.text));
    // Streamed: the placeholder, at least one partial text, then the final one.
    expect(reply.versions[0]).toBe("⏳ Thinking…");
    expect(reply.versions.length).toBeGreaterThanOrEqual(3);
    // While streaming the Stop button carried the request id; the final edit removed it.
    const updates = sim.calls("chat.update", "T1").filter((c) => c.params.ts === first.placeholder.ts);
    const buttons = updates
      .slice(0, -1)
      .map(
        (c) => (c.params.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>).at(-1)!.elements![0]!,
      );
    expect(buttons.length).toBeGreaterThanOrEqual(1);
    for (const b of buttons) expect(b).toMatchObject({ action_id: STOP_ACTION_ID, value: firstEvent.request.requestId });
    expect(updates.at(-1)!.params.blocks).toEqual([]);
  });

  it("a mention in the thread continues it (earlier turns seen); a plain reply there does too; another thread starts fresh", async () => {
    const followUp = sim.userMentions("T1", { channel: "C1", user: "U2", text: "and then?", threadTs: first.placeholder.ts });
    expect(followUp.threadTs).toBe(first.parent.ts);
    const e2 = await generation(`slack-T1-C1-${followUp.ts}`);
    expect(e2.request.conversationKey).toBe(first.conversationKey);
    expect(e2.request.text).toBe("and then?");
    expect(e2.history.map((t) => [t.role, t.text])).toEqual([
      ["user", "What is **Redis**?"],
      ["assistant", firstEvent.result.text],
    ]);
    // In the bot's thread a plain message (no mention) continues the conversation too.
    const plain = sim.userMessage("T1", { channel: "C1", user: "U1", text: "one more thing", threadTs: first.parent.ts });
    const e3 = await generation(`slack-T1-C1-${plain.ts}`);
    expect(e3.history.map((t) => t.text)).toEqual(["What is **Redis**?", firstEvent.result.text, "and then?", e2.result.text]);

    // A mention outside any thread: a new thread on the mentioning message, a new conversation.
    const elsewhere = sim.userMentions("T1", { channel: "C1", user: "U1", text: "unrelated question" });
    const e4 = await generation(`slack-T1-C1-${elsewhere.ts}`);
    expect(e4.request.conversationKey).toBe(`slack:T1:C1:${elsewhere.ts}`);
    expect(e4.history).toEqual([]);
    const thread = sim.thread("T1", "C1", elsewhere.ts);
    expect(thread.map((m) => m.user)).toEqual(["U1", "U0BOT"]);
    expect((await finalReply("T1", "C1", thread[1]!.ts)).text).toBe(expectedFinal(e4.result.text, thread[1]!.text));

    // The first thread holds exactly one reply per message: mention + message events, and echoes, answered once.
    const bots = sim.thread("T1", "C1", first.parent.ts).filter((m) => m.user === "U0BOT");
    expect(bots).toHaveLength(4); // parent, answer, answer to the mention, answer to the plain reply
  });

  it("two workspaces with the same channel id stay separate", async () => {
    const other = await askInThread("T2", "C1", "U1", "same channel id, other workspace");
    expect(other.parent.user).toBe("U2BOT");
    const e = await generation((x) => x.request.conversationKey === other.conversationKey);
    expect(e.request.conversationKey).toBe(`slack:T2:C1:${other.parent.ts}`);
    expect(e.request.reply.workspaceId).toBe("T2");
    expect(e.history).toEqual([]);
    await finalReply("T2", "C1", other.placeholder.ts);
    // Nothing of T2's landed in T1's C1, and T2's edits went out with T2's token.
    expect(sim.messages("T1", "C1").some((m) => m.text.includes("other workspace"))).toBe(false);
    expect(sim.calls("chat.update", "T2").every((c) => c.token === T2_TOKEN)).toBe(true);
    // A follow-up in T2's thread sees only T2's turns.
    const f = sim.userMentions("T2", { channel: "C1", user: "U1", text: "follow up", threadTs: other.parent.ts });
    const e2 = await generation(`slack-T2-C1-${f.ts}`);
    expect(e2.history.map((t) => t.text)).toEqual(["same channel id, other workspace", e.result.text]);
  });

  it("a DM is a conversation, answered in the message's thread", async () => {
    const dm = sim.userMessage("T1", { channel: "D1", user: "U3", text: "hi in a DM" });
    const e = await generation(`slack-T1-D1-${dm.ts}`);
    expect(e.request.conversationKey).toBe("slack:T1:D1:dm");
    const reply = sim.thread("T1", "D1", dm.ts).find((m) => m.user === "U0BOT")!;
    await finalReply("T1", "D1", reply.ts);
    const next = sim.userMessage("T1", { channel: "D1", user: "U3", text: "and again", threadTs: dm.ts });
    const e2 = await generation(`slack-T1-D1-${next.ts}`);
    expect(e2.history.map((t) => t.text)).toEqual(["hi in a DM", e.result.text]);
  });
});

describe("delivery", () => {
  it("a retried envelope gives one reply; the bot's own posts and message_changed edits, and other bots, are ignored", async () => {
    const sent = sim.userMentions("T1", { channel: "C3", user: "U1", text: "retry me" });
    await sent.event.waitAck();
    const retry = sim.redeliver(sent.event);
    expect(retry.toFrame()).toMatchObject({ retry_attempt: 1, retry_reason: "timeout" });
    await retry.waitAck();
    const e = await generation(`slack-T1-C3-${sent.ts}`);
    const reply = sim.thread("T1", "C3", sent.ts).find((m) => m.user === "U0BOT")!;
    await finalReply("T1", "C3", reply.ts);
    // Retried again after the answer (and the message event of the mention, too).
    await sim.redeliver(sent.event, { retryReason: "http_timeout" }).waitAck();
    await sim.redeliver(sent.messageEvent!).waitAck();
    // Another bot talks in the bot's thread: ignored (plain follow-ups from people are answered there).
    const botChat = sim.userMessage("T1", { channel: "C3", user: "U0OTHER", text: "beep", threadTs: sent.ts, botId: "B0OTHER" });
    await botChat.event.waitAck();
    // Every echo of the bot's own activity in that thread has been delivered and acked.
    const echoes = await waitFor(() => {
      const list = sim.envelopes("events_api").filter((env) => env.source === "echo" && env.event?.channel === "C3");
      return list.some((env) => env.event?.subtype === "message_changed") && list.every((env) => env.isAcked) ? list : undefined;
    });
    expect(echoes.length).toBeGreaterThanOrEqual(2);
    // A sentinel: once it is answered, everything sent before it was handled.
    const sentinel = sim.userMentions("T1", { channel: "C3", user: "U1", text: "sentinel", alsoMessageEvent: false });
    await generation(`slack-T1-C3-${sentinel.ts}`);
    expect(events.filter((x) => x.request.conversationKey === e.request.conversationKey)).toHaveLength(1);
    // Exactly one bot message ever posted there (none posted and taken back either).
    expect(sim.thread("T1", "C3", sent.ts, { includeDeleted: true }).filter((m) => m.user === "U0BOT")).toHaveLength(1);
    expect(sim.ephemerals("T1", "C3")).toEqual([]);
  });

  it("ten replies streaming at once in one workspace stay within its edit budget, and every final text lands", async () => {
    const before = sim.calls("chat.update", "T1").length;
    const envelopes = Array.from({ length: 10 }, (_, i) =>
      sim.sendSlashCommand("T1", { command: "/ask", text: `burst question ${i}`, user_id: `U1${i}`, channel_id: "C4" }),
    );
    for (const env of envelopes) await env.waitAck(5000);
    const mine = await waitFor(() => {
      const list = events.filter((x) => x.request.conversationKey.startsWith("slack:T1:C4:"));
      return list.length === 10 ? list : undefined;
    }, 60_000);
    for (const e of mine) {
      const m = await finalReply("T1", "C4", e.request.reply.messageId);
      const stored = await memory.turns(e.request.conversationKey);
      expect(stored.at(-1)!.text).toBe(e.result.text);
      expect(m.text).toBe(expectedFinal(e.result.text, m.text));
    }
    const updates = sim.calls("chat.update", "T1").slice(before);
    expect(updates.length).toBeGreaterThanOrEqual(10);
    expect(sim.rateLimited("chat.update")).toEqual([]);
    expect(sim.maxCallsInWindow("chat.update", "T1", BUDGET_WINDOW_MS)).toBeLessThanOrEqual(EDITS_PER_WINDOW);
  });
});
