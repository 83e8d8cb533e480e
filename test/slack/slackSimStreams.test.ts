import { afterEach, describe, expect, it } from "vitest";
import { platformError, simWebClient } from "../sim/slack/clients.ts";
import { SlackSimulator, STREAMING_METHODS, waitFor } from "../sim/slack/SlackSimulator.ts";

let sim: SlackSimulator | undefined;

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function startSim(options: Parameters<typeof SlackSimulator.start>[0] = {}): Promise<SlackSimulator> {
  sim = await SlackSimulator.start(options);
  return sim;
}

describe("Slack simulator: text streaming (chat.startStream / appendStream / stopStream)", () => {
  it("the WebClient's chatStream() helper streams a DM thread reply; each call's text is a version, stop adds blocks", async () => {
    const s = await startSim({ echoBotPosts: true, echoBotEdits: true });
    const question = s.userMessage("T1", { channel: "D1", user: "U1", text: "what is 2+2?" });
    const client = simWebClient(s);
    const streamer = client.chatStream({ channel: "D1", thread_ts: question.ts, buffer_size: 5 });
    expect(await streamer.append({ markdown_text: "Hel" })).toBeNull();
    expect(s.calls("chat.startStream")).toHaveLength(0);
    await streamer.append({ markdown_text: "lo, " });
    await streamer.append({ markdown_text: "four!" });
    const footer = [{ type: "context", elements: [{ type: "mrkdwn", text: "qwen · 3 tokens" }] }];
    const stopped = await streamer.stop({ blocks: footer });
    const ts = streamer.ts ?? "";

    expect(s.calls("chat.startStream")[0]?.params).toMatchObject({
      channel: "D1",
      thread_ts: question.ts,
      chunks: [{ type: "markdown_text", text: "Hello, " }],
    });
    expect(s.calls("chat.appendStream")[0]?.params).toMatchObject({ ts, chunks: [{ type: "markdown_text", text: "four!" }] });
    expect(stopped).toMatchObject({ ok: true, ts, message: { text: "Hello, four!", blocks: footer } });
    const message = s.message("T1", "D1", ts);
    expect(message).toMatchObject({ text: "Hello, four!", thread_ts: question.ts, reply: true, bot_id: "B0BOT", blocks: footer });
    expect(message?.versions).toEqual(["Hello, ", "Hello, four!"]);
    expect(message?.stream).toMatchObject({ state: "stopped", appends: 1, stopBlocks: footer });
    expect(message?.stream?.chunks).toEqual([
      { type: "markdown_text", text: "Hello, " },
      { type: "markdown_text", text: "four!" },
    ]);
    // The platform's events: the new message on start, one message_changed with the final text on stop.
    const echoed = s.envelopes("events_api").filter((e) => e.source === "echo");
    expect(echoed.map((e) => [e.event?.subtype ?? "", (e.event?.message as { text?: string } | undefined)?.text ?? e.event?.text])).toEqual(
      [
        ["", "Hello, "],
        ["message_changed", "Hello, four!"],
      ],
    );
    // A stopped stream takes no more text; it is a normal message again.
    expect(await platformError(client.chat.appendStream({ channel: "D1", ts, markdown_text: "more" }))).toMatchObject({
      error: "message_not_in_streaming_state",
    });
    expect(await platformError(client.chat.stopStream({ channel: "D1", ts }))).toMatchObject({ error: "message_not_in_streaming_state" });
    await client.chat.update({ channel: "D1", ts, text: "edited later" });
    expect(s.message("T1", "D1", ts)?.text).toBe("edited later");
  });

  it("validates arguments as Slack's reference pages say: thread only, recipients in channels, chunks, owner, state", async () => {
    const s = await startSim();
    const client = simWebClient(s);
    const question = s.userMentions("T1", { channel: "C1", user: "U1", text: "hi" });
    const base = { channel: "C1", thread_ts: question.ts, recipient_team_id: "T1", recipient_user_id: "U1" };

    expect(
      await platformError(client.apiCall("chat.startStream", { channel: "C1", recipient_team_id: "T1", recipient_user_id: "U1" })),
    ).toMatchObject({
      error: "invalid_arguments",
    });
    expect(await platformError(client.chat.startStream({ channel: "C1", thread_ts: question.ts, recipient_team_id: "T1" }))).toMatchObject({
      error: "missing_recipient_user_id",
    });
    expect(await platformError(client.chat.startStream({ channel: "C1", thread_ts: question.ts, recipient_user_id: "U1" }))).toMatchObject({
      error: "missing_recipient_team_id",
    });
    expect(await platformError(client.chat.startStream({ ...base, recipient_user_id: "U404" }))).toMatchObject({ error: "user_not_found" });
    expect(await platformError(client.chat.startStream({ ...base, recipient_team_id: "T404" }))).toMatchObject({ error: "team_not_found" });
    expect(await platformError(client.chat.startStream({ ...base, markdown_text: "x".repeat(12_001) }))).toMatchObject({
      error: "msg_too_long",
    });
    expect(await platformError(client.apiCall("chat.startStream", { ...base, chunks: [{ type: "sparkles" }] }))).toMatchObject({
      error: "invalid_chunks",
    });
    s.addChannel("T1", { id: "C2", botIsMember: false });
    expect(await platformError(client.chat.startStream({ ...base, channel: "C2" }))).toMatchObject({ error: "not_in_channel" });
    expect(s.messages("T1", "C1")).toHaveLength(1);

    const started = await client.chat.startStream({ ...base, markdown_text: "**Hi**" });
    const ts = started.ts ?? "";
    expect(s.message("T1", "C1", ts)?.stream).toMatchObject({ state: "streaming", recipientUserId: "U1", recipientTeamId: "T1" });
    expect(await platformError(client.apiCall("chat.appendStream", { channel: "C1", ts }))).toMatchObject({ error: "no_text" });
    await client.chat.appendStream({
      channel: "C1",
      ts,
      chunks: [
        { type: "task_update", id: "t1", title: "Thinking", status: "in_progress" },
        { type: "markdown_text", text: " there" },
      ],
    });
    expect(await platformError(client.chat.update({ channel: "C1", ts, text: "no" }))).toMatchObject({ error: "streaming_state_conflict" });
    const plain = await client.chat.postMessage({ channel: "C1", text: "plain", thread_ts: question.ts });
    expect(await platformError(client.chat.appendStream({ channel: "C1", ts: plain.ts ?? "", markdown_text: "x" }))).toMatchObject({
      error: "message_not_in_streaming_state",
    });
    expect(await platformError(client.chat.appendStream({ channel: "C1", ts: question.ts, markdown_text: "x" }))).toMatchObject({
      error: "message_not_owned_by_app",
    });
    expect(await platformError(client.chat.appendStream({ channel: "C1", ts: "1.000001", markdown_text: "x" }))).toMatchObject({
      error: "message_not_found",
    });
    await client.chat.stopStream({ channel: "C1", ts, markdown_text: "!", metadata: { event_type: "reply", event_payload: { id: "r1" } } });
    expect(s.message("T1", "C1", ts)).toMatchObject({
      text: "**Hi** there!",
      metadata: { event_type: "reply", event_payload: { id: "r1" } },
      stream: { state: "stopped", appends: 1 },
    });
    // In a DM the recipient may be left out.
    s.userMessage("T1", { channel: "D7", user: "U7", text: "dm" });
    const dm = await client.chat.startStream({ channel: "D7", thread_ts: s.messages("T1", "D7")[0]?.ts ?? "" });
    expect(s.message("T1", "D7", dm.ts ?? "")?.versions).toEqual([""]);
  });

  it("Slack closes a stream after its idle or age limit: appends fail, the text stays, chat.update works again", async () => {
    const s = await startSim({ streamIdleTimeoutMs: 150 });
    const client = simWebClient(s);
    const question = s.userMessage("T1", { channel: "D1", user: "U1", text: "long one" });
    const idle = await client.chat.startStream({ channel: "D1", thread_ts: question.ts, markdown_text: "partial" });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await platformError(client.chat.appendStream({ channel: "D1", ts: idle.ts ?? "", markdown_text: " more" }))).toMatchObject({
      error: "message_not_in_streaming_state",
    });
    expect(await platformError(client.chat.stopStream({ channel: "D1", ts: idle.ts ?? "" }))).toMatchObject({
      error: "message_not_in_streaming_state",
    });
    expect(s.message("T1", "D1", idle.ts ?? "")).toMatchObject({ text: "partial", stream: { state: "expired" } });
    await client.chat.update({ channel: "D1", ts: idle.ts ?? "", text: "partial (continued below)" });
    expect(s.message("T1", "D1", idle.ts ?? "")?.text).toBe("partial (continued below)");

    // Busy but old: the age limit closes it although appends keep coming.
    s.setStreamLimits({ idleMs: 60_000, maxAgeMs: 300 });
    const old = await client.chat.startStream({ channel: "D1", thread_ts: question.ts, markdown_text: "a" });
    let accepted = 0;
    const failure = await waitFor(async () => {
      try {
        await client.chat.appendStream({ channel: "D1", ts: old.ts ?? "", markdown_text: "a" });
        accepted += 1;
        await new Promise((resolve) => setTimeout(resolve, 40));
        return undefined;
      } catch (e) {
        return (e as { data?: { error?: string } }).data?.error ?? "other";
      }
    }, 5000);
    expect(failure).toBe("message_not_in_streaming_state");
    expect(accepted).toBeGreaterThan(1);
    expect(s.message("T1", "D1", old.ts ?? "")?.text).toBe("a".repeat(accepted + 1));

    // A test can close one at once.
    s.setStreamLimits({ maxAgeMs: 60_000 });
    const now = await client.chat.startStream({ channel: "D1", thread_ts: question.ts });
    s.expireStream("T1", "D1", now.ts ?? "");
    expect(await platformError(client.chat.appendStream({ channel: "D1", ts: now.ts ?? "", markdown_text: "x" }))).toMatchObject({
      error: "message_not_in_streaming_state",
    });
  });

  it("enforces the documented tiers per workspace: startStream Tier 2 (20/min), appendStream Tier 4 (100/min)", async () => {
    const s = await startSim({ teams: [{ id: "T1" }, { id: "T2" }] });
    const client = simWebClient(s);
    const question = s.userMessage("T1", { channel: "D1", user: "U1", text: "q" });
    const streams: string[] = [];
    for (let i = 0; i < 20; i++) streams.push((await client.chat.startStream({ channel: "D1", thread_ts: question.ts })).ts ?? "");
    const startLimited = await platformError(client.chat.startStream({ channel: "D1", thread_ts: question.ts }));
    expect(startLimited).toMatchObject({ code: "slack_webapi_rate_limited_error" });
    expect(startLimited.retryAfter).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 100; i++) {
      await client.chat.appendStream({ channel: "D1", ts: streams[i % streams.length] ?? "", markdown_text: "." });
    }
    expect(await platformError(client.chat.appendStream({ channel: "D1", ts: streams[0] ?? "", markdown_text: "." }))).toMatchObject({
      code: "slack_webapi_rate_limited_error",
    });
    expect(s.rateLimited("chat.appendStream", "T1")).toHaveLength(1);
    // Another workspace has its own budget.
    const other = simWebClient(s, "xoxb-T2-simtoken");
    const q2 = s.userMessage("T2", { channel: "D1", user: "U1", text: "q" });
    const t2 = await other.chat.startStream({ channel: "D1", thread_ts: q2.ts });
    await other.chat.appendStream({ channel: "D1", ts: t2.ts ?? "", markdown_text: "ok" });
    expect(s.maxCallsInWindow("chat.appendStream", "T1", 60_000)).toBe(100);
    // Tiers can be switched off for a test about something else.
    s.rateTiers = "off";
    await client.chat.appendStream({ channel: "D1", ts: streams[0] ?? "", markdown_text: "." });
  });

  it("a workspace without the feature answers unknown_method (or the error a test picks); missing scopes answer missing_scope", async () => {
    const s = await startSim({ teams: [{ id: "T1" }, { id: "T2" }] });
    const client = simWebClient(s);
    const question = s.userMessage("T1", { channel: "D1", user: "U1", text: "q" });
    s.disableMethods("T1", STREAMING_METHODS);
    expect(await platformError(client.chat.startStream({ channel: "D1", thread_ts: question.ts }))).toMatchObject({
      error: "unknown_method",
    });
    expect(s.unknownMethods()).toHaveLength(0);
    const q2 = s.userMessage("T2", { channel: "D1", user: "U1", text: "q" });
    await simWebClient(s, "xoxb-T2-simtoken").chat.startStream({ channel: "D1", thread_ts: q2.ts });
    s.disableMethods("T1", ["chat.startStream"], "feature_not_enabled");
    expect(await platformError(client.chat.startStream({ channel: "D1", thread_ts: question.ts }))).toMatchObject({
      error: "feature_not_enabled",
    });
    s.enableMethods("T1");
    const ok = await client.chat.startStream({ channel: "D1", thread_ts: question.ts });
    expect(ok.ok).toBe(true);

    s.setScopes("T1", ["chat:write", "im:history"]);
    const denied = await platformError(client.assistant.threads.setTitle({ channel_id: "D1", thread_ts: question.ts, title: "t" }));
    expect(denied).toMatchObject({ error: "missing_scope", data: { needed: "assistant:write", provided: "chat:write,im:history" } });
    expect(await platformError(client.conversations.replies({ channel: "C9", ts: "1.1" }))).toMatchObject({
      error: "missing_scope",
      data: { needed: "channels:history" },
    });
    await client.conversations.replies({ channel: "D1", ts: question.ts });
    await client.chat.appendStream({ channel: "D1", ts: ok.ts ?? "", markdown_text: "chat:write is enough" });
  });

  it("cuts streamed text at 40,000 characters with Slack's message_truncated warning", async () => {
    const s = await startSim({ rateTiers: "off" });
    const client = simWebClient(s);
    const question = s.userMessage("T1", { channel: "D1", user: "U1", text: "q" });
    const started = await client.chat.startStream({ channel: "D1", thread_ts: question.ts });
    const ts = started.ts ?? "";
    for (let i = 0; i < 3; i++) await client.chat.appendStream({ channel: "D1", ts, markdown_text: "x".repeat(12_000) });
    const last = await client.chat.appendStream({ channel: "D1", ts, markdown_text: "y".repeat(5_000) });
    expect(last).toMatchObject({ ok: true, warning: "message_truncated" });
    expect(s.message("T1", "D1", ts)?.text.length).toBe(40_000);
    expect(s.message("T1", "D1", ts)?.stream?.truncated).toBe(true);
  });
});
