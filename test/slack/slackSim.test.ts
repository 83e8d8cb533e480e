import type { AddressInfo } from "node:net";
import { stringify } from "node:querystring";
import { App, LogLevel, SocketModeReceiver, webApi } from "@slack/bolt";
import { afterEach, describe, expect, it } from "vitest";
import { postSigned, SlackSimulator, signSlackRequest, waitFor } from "../sim/slack/SlackSimulator.ts";

const BOT_TOKEN = "xoxb-T1-simtoken";
const APP_TOKEN = "xapp-1-A0SIMAPP-simtoken";
const SECRET = "sim-signing-secret";

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

/** The real Bolt App, in Socket Mode, pointed at the simulator. */
function socketApp(s: SlackSimulator, options: { clientPingTimeout?: number } = {}): App {
  const clientOptions = { slackApiUrl: s.apiUrl };
  const app =
    options.clientPingTimeout === undefined
      ? new App({ token: BOT_TOKEN, appToken: APP_TOKEN, socketMode: true, clientOptions, logLevel: LogLevel.ERROR })
      : new App({
          token: BOT_TOKEN,
          receiver: new SocketModeReceiver({
            appToken: APP_TOKEN,
            clientPingTimeout: options.clientPingTimeout,
            logLevel: LogLevel.ERROR,
            installerOptions: { clientOptions },
          }),
          clientOptions,
          logLevel: LogLevel.ERROR,
        });
  apps.push(app);
  return app;
}

/** A plain WebClient that neither retries nor waits out rate limits. */
function rawClient(s: SlackSimulator, token = BOT_TOKEN): InstanceType<typeof webApi.WebClient> {
  return new webApi.WebClient(token, {
    slackApiUrl: s.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: webApi.LogLevel.ERROR,
  });
}

async function platformError(promise: Promise<unknown>): Promise<{ code?: string; error?: string; retryAfter?: number }> {
  try {
    await promise;
  } catch (e) {
    const err = e as { code?: string; data?: { error?: string }; retryAfter?: number };
    const out: { code?: string; error?: string; retryAfter?: number } = {};
    if (err.code !== undefined) out.code = err.code;
    if (err.data?.error !== undefined) out.error = err.data.error;
    if (err.retryAfter !== undefined) out.retryAfter = err.retryAfter;
    return out;
  }
  throw new Error("expected the call to fail");
}

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

describe("SlackSimulator Web API", () => {
  it("keeps text up to 40000 characters whole and refuses longer with msg_too_long", async () => {
    const s = await startSim();
    const client = rawClient(s);
    const longest = `${"x".repeat(39_999)}!`;
    const ok = await client.chat.postMessage({ channel: "C1", text: longest });
    expect(s.message("T1", "C1", ok.ts ?? "")?.text).toBe(longest);
    expect(await platformError(client.chat.postMessage({ channel: "C1", text: "x".repeat(40_001) }))).toMatchObject({
      error: "msg_too_long",
    });
    expect(await platformError(client.chat.update({ channel: "C1", ts: ok.ts ?? "", text: "y".repeat(40_001) }))).toMatchObject({
      error: "msg_too_long",
    });
    const blocks = Array.from({ length: 51 }, () => ({ type: "divider" }));
    expect(await platformError(client.chat.postMessage({ channel: "C1", text: "t", blocks }))).toMatchObject({ error: "invalid_blocks" });
    expect(await platformError(client.chat.postMessage({ channel: "C1", text: "" }))).toMatchObject({ error: "no_text" });
    expect(s.messages("T1", "C1")).toHaveLength(1);
  });

  it("answers message_not_found, invalid_auth, not_allowed_token_type and unknown_method, and records them", async () => {
    const s = await startSim();
    const client = rawClient(s);
    expect(await platformError(client.chat.update({ channel: "C1", ts: "1.000001", text: "x" }))).toMatchObject({
      error: "message_not_found",
    });
    expect(await platformError(rawClient(s, "xoxb-T9-nope").auth.test())).toMatchObject({ error: "invalid_auth" });
    expect(await platformError(client.apps.connections.open())).toMatchObject({ error: "not_allowed_token_type" });
    expect(await platformError(client.apiCall("chat.scheduleMessage", { channel: "C1" }))).toMatchObject({ error: "unknown_method" });
    expect(s.unknownMethods().map((c) => [c.method, c.params.channel, c.teamId])).toEqual([["chat.scheduleMessage", "C1", "T1"]]);
    expect(s.calls().map((c) => c.error)).toEqual(["message_not_found", "invalid_auth", "not_allowed_token_type", "unknown_method"]);
  });

  it("failNext injects errors, 500s and 429s; perMinute limits answer 429 with Retry-After", async () => {
    const s = await startSim();
    const client = rawClient(s);
    s.failNext("chat.postMessage", { error: "channel_not_found" });
    expect(await platformError(client.chat.postMessage({ channel: "C1", text: "a" }))).toMatchObject({ error: "channel_not_found" });
    s.failNext("chat.postMessage", { status: 500 });
    expect(await platformError(client.chat.postMessage({ channel: "C1", text: "a" }))).toMatchObject({ code: "slack_webapi_http_error" });
    s.failNext("chat.postMessage", { status: 429, retryAfterSec: 7 });
    expect(await platformError(client.chat.postMessage({ channel: "C1", text: "a" }))).toMatchObject({
      code: "slack_webapi_rate_limited_error",
      retryAfter: 7,
    });
    const posted = await client.chat.postMessage({ channel: "C1", text: "a" });
    expect(posted.ok).toBe(true);

    s.setMethodLimit("chat.update", { perMinute: 50 });
    for (let i = 1; i <= 50; i++) await client.chat.update({ channel: "C1", ts: posted.ts ?? "", text: `v${i}` });
    const limited = await platformError(client.chat.update({ channel: "C1", ts: posted.ts ?? "", text: "v51" }));
    expect(limited.code).toBe("slack_webapi_rate_limited_error");
    expect(limited.retryAfter).toBeGreaterThanOrEqual(1);
    expect(limited.retryAfter).toBeLessThanOrEqual(60);
    // Another workspace has its own budget.
    s.addTeam({ id: "T2" });
    const other = rawClient(s, "xoxb-T2-simtoken");
    const otherPost = await other.chat.postMessage({ channel: "C1", text: "b" });
    await other.chat.update({ channel: "C1", ts: otherPost.ts ?? "", text: "b2" });
    expect(s.rateLimited("chat.update").map((c) => c.teamId)).toEqual(["T1"]);
    expect(s.history("T1", "C1", posted.ts ?? "")).toHaveLength(51);
  });

  it("keeps workspaces apart: the same channel id in two teams, tokens mapped to teams", async () => {
    const s = await startSim({ teams: [{ id: "T1" }, { id: "T2", botUserId: "U2BOT", botId: "B2BOT" }] });
    const one = rawClient(s, "xoxb-T1-a");
    const two = rawClient(s, "xoxb-T2-b");
    s.registerBotToken("xoxb-custom", "T2");
    expect((await two.auth.test()).user_id).toBe("U2BOT");
    expect((await rawClient(s, "xoxb-custom").auth.test()).team_id).toBe("T2");
    await one.chat.postMessage({ channel: "C1", text: "in one" });
    await two.chat.postMessage({ channel: "C1", text: "in two" });
    expect(s.messages("T1", "C1").map((m) => [m.text, m.bot_id])).toEqual([["in one", "B0BOT"]]);
    expect(s.messages("T2", "C1").map((m) => [m.text, m.bot_id, m.user])).toEqual([["in two", "B2BOT", "U2BOT"]]);
  });

  it("serves conversations.info, users.info, reactions.add, chat.postEphemeral and chat.delete", async () => {
    const s = await startSim();
    const client = rawClient(s);
    const sent = s.userMessage("T1", { channel: "D1", user: "U1", text: "hello bot" });
    expect(sent.event.event).toMatchObject({ type: "message", channel_type: "im", user: "U1", text: "hello bot" });
    expect((await client.conversations.info({ channel: "D1" })).channel).toMatchObject({ id: "D1", is_im: true });
    expect((await client.users.info({ user: "U1" })).user).toMatchObject({ id: "U1", is_bot: false });
    await client.reactions.add({ channel: "D1", timestamp: sent.ts, name: "eyes" });
    expect(await platformError(client.reactions.add({ channel: "D1", timestamp: sent.ts, name: "eyes" }))).toMatchObject({
      error: "already_reacted",
    });
    expect(s.message("T1", "D1", sent.ts)?.reactions).toEqual([{ name: "eyes", users: ["U0BOT"], count: 1 }]);
    await client.chat.postEphemeral({ channel: "D1", user: "U1", text: "only you" });
    expect(s.ephemerals("T1", "D1").map((e) => e.text)).toEqual(["only you"]);
    const posted = await client.chat.postMessage({ channel: "D1", text: "bye" });
    await client.chat.delete({ channel: "D1", ts: posted.ts ?? "" });
    expect(s.messages("T1", "D1").map((m) => m.text)).toEqual(["hello bot"]);
    expect(await platformError(client.chat.delete({ channel: "D1", ts: sent.ts }))).toMatchObject({ error: "cant_delete_message" });
  });
});

describe("Bolt in HTTP mode, driven with signed requests", () => {
  it("signs like Slack: v0=HMAC_SHA256(secret, v0:ts:body)", () => {
    // Slack's documented example.
    const headers = signSlackRequest(
      "8f742231b10e8888abcd99yyyzzz85a5",
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
      1531420618,
    );
    expect(headers).toEqual({
      "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
      "x-slack-request-timestamp": "1531420618",
    });
  });

  it("accepts correctly signed commands and events, and answers 401 to forged, missing and stale signatures", async () => {
    const s = await startSim();
    const app = new App({ token: BOT_TOKEN, signingSecret: SECRET, clientOptions: { slackApiUrl: s.apiUrl }, logLevel: LogLevel.ERROR });
    apps.push(app);
    const commands: string[] = [];
    const mentions: Array<{ ts: string; retryNum?: number }> = [];
    app.command("/ask", async ({ command, ack, client }) => {
      commands.push(command.text);
      await ack({ text: "queued" });
      await client.chat.postMessage({ channel: command.channel_id, text: `answer to ${command.text}` });
    });
    app.event("app_mention", async ({ event, context }) => {
      const entry: { ts: string; retryNum?: number } = { ts: event.ts };
      if (context.retryNum !== undefined) entry.retryNum = context.retryNum;
      mentions.push(entry);
    });
    const server = await app.start({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;

    const form = stringify(
      s.buildSlashCommandPayload("T1", { command: "/ask", text: "one", user_id: "U1", channel_id: "C1" }) as Record<string, string>,
    );
    const good = await postSigned(url, form, { secret: SECRET });
    expect(good.status).toBe(200);
    expect(good.json).toEqual({ text: "queued" });
    await waitFor(() => s.messages("T1", "C1").length === 1);

    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    for (const bad of [
      await postSigned(url, form, { secret: SECRET, forge: true }),
      await postSigned(url, form, { secret: SECRET, omit: "signature" }),
      await postSigned(url, form, { secret: SECRET, omit: "timestamp" }),
      await postSigned(url, form, { secret: SECRET, omit: "both" }),
      await postSigned(url, form, { secret: SECRET, timestamp: stale }),
    ]) {
      expect(bad.status).toBe(401);
    }
    expect(commands).toEqual(["one"]);

    const mention = s.buildEventPayload("T1", {
      type: "app_mention",
      user: "U1",
      text: "<@U0BOT> hi",
      ts: "1700000000.000100",
      channel: "C1",
    });
    expect((await postSigned(url, mention, { secret: SECRET, timestamp: stale })).status).toBe(401);
    expect((await postSigned(url, mention, { secret: SECRET })).status).toBe(200);
    await waitFor(() => mentions.length === 1);

    // The simulator can also deliver to an HTTP-mode app itself, signed, with retry headers.
    s.setHttpDelivery({ url, signingSecret: SECRET });
    const viaSim = s.sendSlashCommand("T1", { command: "/ask", text: "two", user_id: "U1", channel_id: "C1" });
    expect(await viaSim.waitAck()).toMatchObject({ status: 200, payload: { text: "queued" } });
    const first = s.userMentions("T1", { channel: "C1", user: "U1", text: "again", alsoMessageEvent: false }).event;
    expect((await first.waitAck()).status).toBe(200);
    expect((await s.redeliver(first).waitAck()).status).toBe(200);
    await waitFor(() => mentions.length === 3);
    expect(mentions.slice(1).map((m) => m.retryNum)).toEqual([undefined, 1]);
    expect(commands).toEqual(["one", "two"]);
  });
});
