/**
 * Bolt in HTTP mode against the Slack simulator, driven with signed requests: signed like
 * Slack's, and forged, missing or stale signatures refused. Shared setup: slackSimTestbed.ts.
 */
import type { AddressInfo } from "node:net";
import { stringify } from "node:querystring";
import { App, LogLevel } from "@slack/bolt";
import { describe, expect, it } from "vitest";
import { postSigned, signSlackRequest, waitFor } from "../sim/slack/SlackSimulator.ts";
import { BOT_TOKEN, SECRET, slackSimTestbed } from "./slackSimTestbed.ts";

const { startSim, track } = slackSimTestbed();

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
    track(app);
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
