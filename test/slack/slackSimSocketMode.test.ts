/**
 * The Slack simulator with the real Bolt App in Socket Mode: connecting, commands, events,
 * actions, rate limits, redelivered envelopes, reconnects. Shared setup: slackSimTestbed.ts.
 */
import { describe, expect, it } from "vitest";
import { waitFor } from "../sim/slack/SlackSimulator.ts";
import { APP_TOKEN, BOT_TOKEN, slackSimTestbed } from "./slackSimTestbed.ts";

const { startSim, socketApp } = slackSimTestbed();

describe("SlackSimulator with the real Bolt App in Socket Mode", () => {
  it("app.start() calls auth.test and apps.connections.open, then connects and gets hello", async () => {
    const s = await startSim({ teams: [{ id: "T1", name: "Acme Corp" }] });
    const app = socketApp(s);
    await app.start();
    expect(s.connectionCount).toBe(1);
    expect(s.connectCount).toBe(1);
    const authTest = s.calls("auth.test");
    expect(authTest.length).toBeGreaterThanOrEqual(1);
    expect(authTest[0]).toMatchObject({ teamId: "T1", ok: true, token: BOT_TOKEN });
    expect(authTest[0]?.response).toMatchObject({ team_id: "T1", user_id: "U0BOT", bot_id: "B0BOT", team: "Acme Corp" });
    expect(s.calls("apps.connections.open")[0]).toMatchObject({ ok: true, token: APP_TOKEN });
  });

  it("a slash command is acked fast; the handler's postMessage and respond() land in the simulator", async () => {
    const s = await startSim();
    const app = socketApp(s);
    const commands: Array<{ text: string; response_url: string; trigger_id: string }> = [];
    app.command("/ask", async ({ command, ack, client, respond }) => {
      commands.push(command);
      await ack({ text: "Thinking…" });
      await client.chat.postMessage({ channel: command.channel_id, text: `<@${command.user_id}> asked: ${command.text}` });
      await respond({ text: "done", response_type: "ephemeral" });
    });
    await app.start();

    const envelope = s.sendSlashCommand("T1", { command: "/ask", text: "why is the sky blue?", user_id: "U1", channel_id: "C1" });
    expect(envelope.toFrame()).toMatchObject({ type: "slash_commands", accepts_response_payload: true });
    const ack = await envelope.waitAck(3000);
    expect(ack.ackMs).toBeLessThan(3000);
    expect(ack.payload).toEqual({ text: "Thinking…" });

    const [posted] = await waitFor(() => (s.messages("T1", "C1").length === 1 ? s.messages("T1", "C1") : undefined));
    expect(posted).toMatchObject({ text: "<@U1> asked: why is the sky blue?", bot_id: "B0BOT", user: "U0BOT", edits: 0, reply: false });
    expect(commands[0]?.response_url.startsWith(s.baseUrl)).toBe(true);
    expect(commands[0]?.trigger_id).toBeTruthy();
    await waitFor(() => s.responseUrlPosts().length === 1);
    expect(s.responseUrlPosts()[0]).toMatchObject({ status: 200, body: { text: "done" } });
    expect(s.ephemerals("T1", "C1").map((e) => [e.via, e.text, e.user])).toEqual([
      ["ack", "Thinking…", "U1"],
      ["response_url", "done", "U1"],
    ]);
  });

  it("an app_mention reaches app.event (with the plain message event too) and a threaded reply lands", async () => {
    const s = await startSim();
    const app = socketApp(s);
    const mentions: Array<{ text: string; ts: string; thread_ts?: string }> = [];
    const messages: Array<{ text?: string; ts: string }> = [];
    app.event("app_mention", async ({ event, client }) => {
      mentions.push(event);
      await client.chat.postMessage({ channel: event.channel, thread_ts: event.thread_ts ?? event.ts, text: "4" });
    });
    app.event("message", async ({ event }) => {
      messages.push(event as { text?: string; ts: string });
    });
    await app.start();

    const sent = s.userMentions("T1", { channel: "C1", user: "U1", text: "what is 2+2?" });
    await sent.event.waitAck();
    await sent.messageEvent?.waitAck();
    expect(sent.event.event).toMatchObject({ type: "app_mention", text: "<@U0BOT> what is 2+2?", user: "U1", ts: sent.ts });
    const thread = await waitFor(() => {
      const t = s.thread("T1", "C1", sent.ts);
      return t.length === 2 ? t : undefined;
    });
    expect(thread.map((m) => [m.user, m.text, m.thread_ts])).toEqual([
      ["U1", "<@U0BOT> what is 2+2?", sent.ts],
      ["U0BOT", "4", sent.ts],
    ]);
    expect(thread[0]?.reply_count).toBe(1);
    expect(thread[1]?.reply).toBe(true);
    expect(mentions.map((m) => m.ts)).toEqual([sent.ts]);
    expect(messages.map((m) => m.ts)).toEqual([sent.ts]);

    // A follow-up mention inside the thread carries thread_ts; a reply's ts maps to the parent.
    const followUp = s.userMentions("T1", {
      channel: "C1",
      user: "U1",
      text: "and 3+3?",
      threadTs: thread[1]?.ts ?? "",
      alsoMessageEvent: false,
    });
    await followUp.event.waitAck();
    expect(followUp.threadTs).toBe(sent.ts);
    await waitFor(() => s.thread("T1", "C1", sent.ts).length === 4);
    expect(mentions[1]?.thread_ts).toBe(sent.ts);
  });

  it("a block_actions click reaches app.action with the button, its block and the message", async () => {
    const s = await startSim();
    const app = socketApp(s);
    const clicks: Array<{ value?: string; block_id: string; messageTs?: string; responseUrl?: string }> = [];
    app.action("stop", async ({ ack, action, body }) => {
      await ack();
      const b = body as { message?: { ts: string }; response_url?: string };
      const a = action as { value?: string; block_id: string };
      const click: { value?: string; block_id: string; messageTs?: string; responseUrl?: string } = { block_id: a.block_id };
      if (a.value !== undefined) click.value = a.value;
      if (b.message?.ts !== undefined) click.messageTs = b.message.ts;
      if (b.response_url !== undefined) click.responseUrl = b.response_url;
      clicks.push(click);
    });
    await app.start();
    const posted = await app.client.chat.postMessage({
      channel: "C1",
      text: "streaming…",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: "streaming…" } },
        {
          type: "actions",
          block_id: "controls",
          elements: [{ type: "button", action_id: "stop", text: { type: "plain_text", text: "Stop" }, value: "job-1" }],
        },
      ],
    });
    const ts = posted.ts ?? "";
    const click = s.clickButton("T1", { channel: "C1", messageTs: ts, actionId: "stop", value: "job-1", user: "U1" });
    expect(click.payload).toMatchObject({ type: "block_actions", container: { message_ts: ts, channel_id: "C1" }, user: { id: "U1" } });
    await click.waitAck();
    await waitFor(() => clicks.length === 1);
    expect(clicks[0]).toMatchObject({ value: "job-1", block_id: "controls", messageTs: ts });
    expect(clicks[0]?.responseUrl?.startsWith(s.baseUrl)).toBe(true);
  });

  it("a chat.update beyond the per-workspace limit gets a 429 with Retry-After that the WebClient waits out", async () => {
    const s = await startSim();
    const app = socketApp(s);
    await app.start();
    const posted = await app.client.chat.postMessage({ channel: "C1", text: "v0" });
    const ts = posted.ts ?? "";
    s.setMethodLimit("chat.update", { limit: 2, windowMs: 1000 });
    for (const text of ["v1", "v2", "v3"]) await app.client.chat.update({ channel: "C1", ts, text });

    const limited = s.rateLimited("chat.update", "T1");
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited[0]).toMatchObject({ status: 429, retryAfterSec: 1, error: "ratelimited" });
    const landed = s.calls("chat.update", "T1").filter((c) => c.ok);
    expect(landed).toHaveLength(3);
    // The WebClient slept Retry-After before retrying (recorded arrival times, lower bound only).
    expect((landed[2]?.time ?? 0) - (limited[0]?.time ?? 0)).toBeGreaterThanOrEqual(950);
    expect(s.history("T1", "C1", ts)).toEqual(["v0", "v1", "v2", "v3"]);
    expect(s.message("T1", "C1", ts)).toMatchObject({ text: "v3", edits: 3 });
    expect(s.maxCallsInWindow("chat.update", "T1", 1000)).toBeLessThanOrEqual(2);

    // failNext: one injected 429, honoured the same way.
    s.clearMethodLimit("chat.update");
    s.failNext("chat.update", { status: 429, retryAfterSec: 1 });
    await app.client.chat.update({ channel: "C1", ts, text: "v4" });
    expect(s.rateLimited("chat.update")).toHaveLength(2);
    expect(s.history("T1", "C1", ts).at(-1)).toBe("v4");
  });

  it("a redelivered envelope carries retry_attempt and the same event_id, seen by Bolt as retryNum", async () => {
    const s = await startSim();
    const app = socketApp(s);
    const seen: Array<{ retryNum?: number; retryReason?: string; eventId: string }> = [];
    app.event("app_mention", async ({ context, body }) => {
      const entry: { retryNum?: number; retryReason?: string; eventId: string } = { eventId: body.event_id };
      if (context.retryNum !== undefined) entry.retryNum = context.retryNum;
      if (context.retryReason !== undefined) entry.retryReason = context.retryReason;
      seen.push(entry);
    });
    await app.start();
    const first = s.userMentions("T1", { channel: "C1", user: "U1", text: "hi", alsoMessageEvent: false }).event;
    await first.waitAck();
    const second = s.redeliver(first);
    expect(second.envelopeId).not.toBe(first.envelopeId);
    expect(second.toFrame()).toMatchObject({ type: "events_api", retry_attempt: 1, retry_reason: "timeout" });
    await second.waitAck();
    await waitFor(() => seen.length === 2);
    const eventId = first.payload.event_id;
    expect(seen).toEqual([
      { retryNum: 0, retryReason: "", eventId },
      { retryNum: 1, retryReason: "timeout", eventId },
    ]);
  });

  it("echoes the bot's own posts (dropped by Bolt) and edits as message_changed (delivered: the bot must ignore it)", async () => {
    const s = await startSim({ echoBotPosts: true, echoBotEdits: true });
    const app = socketApp(s);
    const events: Array<{ subtype?: string; message?: { bot_id?: string; text?: string; edited?: unknown } }> = [];
    app.event("message", async ({ event }) => {
      events.push(event as { subtype?: string });
    });
    await app.start();
    const posted = await app.client.chat.postMessage({ channel: "C1", text: "hello" });
    await app.client.chat.update({ channel: "C1", ts: posted.ts ?? "", text: "hello, edited" });
    const echoes = await waitFor(() => {
      const list = s.envelopes("events_api").filter((e) => e.source === "echo");
      return list.length === 2 && list.every((e) => e.isAcked) ? list : undefined;
    });
    expect(echoes[0]?.event).toMatchObject({ type: "message", user: "U0BOT", bot_id: "B0BOT", text: "hello", ts: posted.ts });
    expect(echoes[1]?.event).toMatchObject({
      type: "message",
      subtype: "message_changed",
      message: { text: "hello, edited", ts: posted.ts },
    });
    // Bolt's ignoreSelf drops the plain echo (user = bot user); message_changed has no top-level user.
    await waitFor(() => events.some((e) => e.subtype === "message_changed"));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subtype: "message_changed", message: { bot_id: "B0BOT", text: "hello, edited" } });
  });

  it("the client reconnects after a disconnect request and after a dropped socket, and keeps receiving", async () => {
    const s = await startSim();
    const app = socketApp(s, { clientPingTimeout: 400 });
    const mentions: string[] = [];
    app.event("app_mention", async ({ event }) => {
      mentions.push(event.ts);
    });
    await app.start();
    s.sendDisconnect();
    await s.waitForConnect(2, 5000);
    s.dropSocket();
    await s.waitForConnect(3, 5000);
    const sent = s.userMentions("T1", { channel: "C1", user: "U1", text: "still there?", alsoMessageEvent: false });
    await sent.event.waitAck();
    await waitFor(() => mentions.includes(sent.ts));
    expect(s.calls("apps.connections.open").length).toBe(3);
  });

  it("queues envelopes sent while no client is connected and delivers them on connect", async () => {
    const s = await startSim();
    const app = socketApp(s);
    const mentions: string[] = [];
    app.event("app_mention", async ({ event }) => {
      mentions.push(event.ts);
    });
    const early = s.userMentions("T1", { channel: "C1", user: "U1", text: "early", alsoMessageEvent: false });
    expect(early.event.isAcked).toBe(false);
    await app.start();
    await early.event.waitAck();
    await waitFor(() => mentions.includes(early.ts));
  });
});
