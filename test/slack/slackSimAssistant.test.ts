import { App, Assistant, LogLevel } from "@slack/bolt";
import { afterEach, describe, expect, it } from "vitest";
import { platformError, simWebClient } from "../sim/slack/clients.ts";
import { ASSISTANT_METHODS, SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const BOT_TOKEN = "xoxb-T1-simtoken";
const APP_TOKEN = "xapp-1-A0SIMAPP-simtoken";

let sim: SlackSimulator | undefined;
const apps: App[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop().catch(() => undefined);
  await sim?.stop();
  sim = undefined;
});

async function startSim(options: Parameters<typeof SlackSimulator.start>[0] = {}): Promise<SlackSimulator> {
  sim = await SlackSimulator.start(options);
  return sim;
}

function socketApp(s: SlackSimulator): App {
  const app = new App({
    token: BOT_TOKEN,
    appToken: APP_TOKEN,
    socketMode: true,
    clientOptions: { slackApiUrl: s.apiUrl },
    logLevel: LogLevel.ERROR,
  });
  apps.push(app);
  return app;
}

describe("Slack simulator: the assistant container with Bolt's Assistant middleware", () => {
  it("opening the split view starts a thread Bolt recognises; greeting, prompts, title, status and a streamed answer land", async () => {
    const s = await startSim();
    const app = socketApp(s);
    const seen: Array<{ kind: string; channel: string; threadTs: string; context?: unknown }> = [];
    const other: string[] = [];
    app.assistant(
      new Assistant({
        threadStarted: async ({ event, say, setSuggestedPrompts }) => {
          seen.push({
            kind: "started",
            channel: event.assistant_thread.channel_id,
            threadTs: event.assistant_thread.thread_ts,
            context: event.assistant_thread.context,
          });
          await say("Hi! Ask me anything.");
          await setSuggestedPrompts({ title: "Try", prompts: [{ title: "Explain", message: "Explain Qwen2" }] });
        },
        threadContextChanged: async ({ event, saveThreadContext }) => {
          seen.push({
            kind: "context",
            channel: event.assistant_thread.channel_id,
            threadTs: event.assistant_thread.thread_ts,
            context: event.assistant_thread.context,
          });
          await saveThreadContext();
        },
        userMessage: async ({ message, setTitle, setStatus, sayStream }) => {
          const m = message as { text?: string; channel: string; thread_ts?: string };
          seen.push({ kind: "message", channel: m.channel, threadTs: m.thread_ts ?? "" });
          await setTitle(m.text ?? "");
          await setStatus("is thinking…");
          const streamer = sayStream({ buffer_size: 1 });
          await streamer.append({ markdown_text: "Qwen2 is " });
          await streamer.append({ markdown_text: "a model." });
          await streamer.stop();
        },
      }),
    );
    app.event("message", async ({ event }) => {
      other.push(String((event as { subtype?: string }).subtype ?? "plain"));
    });
    await app.start();
    await s.waitForConnect();

    const opened = s.openAssistantThread("T1", { user: "U1", context: { channelId: "C1" } });
    expect(opened.event.event).toEqual({
      type: "assistant_thread_started",
      assistant_thread: {
        user_id: "U1",
        context: { channel_id: "C1", team_id: "T1" },
        channel_id: opened.channel,
        thread_ts: opened.threadTs,
      },
      event_ts: expect.any(String),
    });
    await waitFor(() => s.assistantThread("T1", opened.channel, opened.threadTs)?.prompts !== undefined);
    expect(seen[0]).toEqual({ kind: "started", channel: "DU1", threadTs: opened.threadTs, context: { channel_id: "C1", team_id: "T1" } });
    const greeting = s.thread("T1", opened.channel, opened.threadTs).find((m) => m.bot_id !== undefined);
    expect(greeting).toMatchObject({ text: "Hi! Ask me anything.", reply: true, metadata: { event_type: "assistant_thread_context" } });
    expect(s.assistantThread("T1", opened.channel, opened.threadTs)).toMatchObject({
      promptsTitle: "Try",
      prompts: [{ title: "Explain", message: "Explain Qwen2" }],
    });

    s.changeAssistantContext("T1", { user: "U1", channel: opened.channel, threadTs: opened.threadTs, context: { channelId: "C2" } });
    await waitFor(() => seen.some((e) => e.kind === "context"));
    await waitFor(
      () =>
        (s.message("T1", opened.channel, greeting?.ts ?? "")?.metadata as { event_payload?: { channel_id?: string } })?.event_payload
          ?.channel_id === "C2",
    );

    const asked = s.userMessage("T1", { channel: opened.channel, user: "U1", text: "What is Qwen2?", threadTs: opened.threadTs });
    expect(asked.event.event).toMatchObject({ channel_type: "im", thread_ts: opened.threadTs, channel: opened.channel });
    await waitFor(() => s.calls("chat.stopStream").length === 1);
    expect(seen.filter((e) => e.kind === "message")).toEqual([{ kind: "message", channel: opened.channel, threadTs: opened.threadTs }]);
    const thread = s.thread("T1", opened.channel, opened.threadTs);
    expect(thread.at(-1)).toMatchObject({ text: "Qwen2 is a model.", stream: { state: "stopped" } });
    const view = s.assistantThread("T1", opened.channel, opened.threadTs);
    // The status was set, then cleared by the reply (Slack clears it when the app answers).
    expect(view).toMatchObject({ title: "What is Qwen2?", status: "", statusHistory: ["is thinking…"] });
    expect(s.message("T1", opened.channel, opened.threadTs)?.assistantTitle).toBe("What is Qwen2?");
    // The title change is a message_changed of the root (subtype assistant_app_thread): not the Assistant's, so app.message sees it.
    await waitFor(() => other.includes("message_changed"));
    expect(s.calls("chat.startStream")[0]?.params).toMatchObject({
      channel: opened.channel,
      thread_ts: opened.threadTs,
      recipient_team_id: "T1",
    });
  });

  it("setStatus, setSuggestedPrompts and setTitle check their arguments; a status times out; the methods can be missing", async () => {
    const s = await startSim({ assistantStatusTimeoutMs: 100 });
    const client = simWebClient(s);
    const opened = s.openAssistantThread("T1", { user: "U1", channel: "D1" });
    const where = { channel_id: "D1", thread_ts: opened.threadTs };
    expect(await platformError(client.assistant.threads.setStatus({ ...where, channel_id: "D404", status: "x" }))).toMatchObject({
      error: "channel_not_found",
    });
    expect(await platformError(client.assistant.threads.setStatus({ ...where, thread_ts: "1.000001", status: "x" }))).toMatchObject({
      error: "invalid_thread_ts",
    });
    const tooMany = Array.from({ length: 11 }, (_, i) => `step ${i}`);
    expect(await platformError(client.assistant.threads.setStatus({ ...where, status: "x", loading_messages: tooMany }))).toMatchObject({
      error: "invalid_arguments",
    });
    const prompts = Array.from({ length: 5 }, (_, i) => ({ title: `t${i}`, message: `m${i}` }));
    expect(await platformError(client.assistant.threads.setSuggestedPrompts({ ...where, prompts }))).toMatchObject({
      error: "invalid_arguments",
    });
    expect(await platformError(client.apiCall("assistant.threads.setTitle", where))).toMatchObject({ error: "invalid_arguments" });

    await client.assistant.threads.setStatus({ ...where, status: "is thinking…", loading_messages: ["Reading…", "Writing…"] });
    expect(s.assistantThread("T1", "D1", opened.threadTs)).toMatchObject({
      status: "is thinking…",
      loadingMessages: ["Reading…", "Writing…"],
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(s.assistantThread("T1", "D1", opened.threadTs)?.status).toBe("");
    await client.assistant.threads.setStatus({ ...where, status: "waiting — 2 ahead" });
    await client.assistant.threads.setStatus({ ...where, status: "" });
    expect(s.assistantThread("T1", "D1", opened.threadTs)).toMatchObject({
      status: "",
      statusHistory: ["is thinking…", "waiting — 2 ahead", ""],
    });

    // setStatus also works in a channel thread (Slack's example uses a C… channel).
    const mention = s.userMentions("T1", { channel: "C1", user: "U1", text: "hi" });
    await client.assistant.threads.setStatus({ channel_id: "C1", thread_ts: mention.ts, status: "is thinking…" });
    expect(s.assistantThread("T1", "C1", mention.ts)?.status).toBe("is thinking…");

    s.disableMethods("T1", ASSISTANT_METHODS.slice(1), "not_agent_app");
    expect(await platformError(client.assistant.threads.setSuggestedPrompts({ ...where, prompts: prompts.slice(0, 1) }))).toMatchObject({
      error: "not_agent_app",
    });
    await client.assistant.threads.setStatus({ ...where, status: "still allowed" });
  });
});
