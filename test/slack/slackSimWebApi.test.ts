/**
 * The Slack simulator's Web API: text limits, errors, scripted failures and rate limits,
 * workspaces kept apart, and the other methods the bot uses. Shared setup: slackSimTestbed.ts.
 */
import { describe, expect, it } from "vitest";
import { platformError, rawClient, slackSimTestbed } from "./slackSimTestbed.ts";

const { startSim } = slackSimTestbed();

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
