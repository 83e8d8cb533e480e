import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { platformError, simWebClient } from "../sim/slack/clients.ts";
import { postSigned, SlackSimulator } from "../sim/slack/SlackSimulator.ts";

let sim: SlackSimulator | undefined;
let server: Server | undefined;

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  if (server) {
    const s = server;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    server = undefined;
  }
});

async function startSim(options: Parameters<typeof SlackSimulator.start>[0] = {}): Promise<SlackSimulator> {
  sim = await SlackSimulator.start(options);
  return sim;
}

/** A plain HTTP endpoint that records what it is sent. */
async function recorder(): Promise<{ url: string; requests: Array<{ headers: IncomingMessage["headers"]; body: string }> }> {
  const requests: Array<{ headers: IncomingMessage["headers"]; body: string }> = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end();
    });
  });
  server = srv;
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", () => resolve()));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/slack/events`, requests };
}

describe("Slack simulator: faults of an incident (issue 12)", () => {
  it("a post that is saved and then answered 500 is retried by the WebClient: the duplicate is visible", async () => {
    const s = await startSim();
    const client = simWebClient(s, undefined, { retryConfig: { retries: 2, factor: 1, minTimeout: 10, maxTimeout: 10 } });
    const question = s.userMentions("T1", { channel: "C1", user: "U1", text: "hi" });
    s.failNext("chat.postMessage", { status: 500, afterCommit: true });
    const posted = await client.chat.postMessage({ channel: "C1", thread_ts: question.ts, text: "⏳ Thinking…" });
    const replies = s.thread("T1", "C1", question.ts).filter((m) => m.bot_id !== undefined);
    expect(replies.map((m) => m.text)).toEqual(["⏳ Thinking…", "⏳ Thinking…"]);
    expect(replies[1]?.ts).toBe(posted.ts);
    expect(s.calls("chat.postMessage").map((c) => [c.status, c.committed ?? false])).toEqual([
      [500, true],
      [200, false],
    ]);
  });

  it("a post that is saved and then never answered times out in the client, which retries: again a duplicate", async () => {
    const s = await startSim();
    const client = simWebClient(s, undefined, { timeout: 300, retryConfig: { retries: 1, factor: 1, minTimeout: 10, maxTimeout: 10 } });
    s.failNext("chat.postMessage", { hang: true, afterCommit: true });
    await client.chat.postMessage({ channel: "C1", text: "answer" });
    expect(s.messages("T1", "C1").map((m) => m.text)).toEqual(["answer", "answer"]);
    expect(s.calls("chat.postMessage").map((c) => [c.status, c.error ?? "", c.committed ?? false])).toEqual([
      [0, "timeout", true],
      [200, "", false],
    ]);
    // A hang before the write stores nothing; hangMs cuts the connection like a gateway would.
    s.failNext("chat.postMessage", { hang: true, hangMs: 50 });
    const noRetry = simWebClient(s);
    expect(await platformError(noRetry.chat.postMessage({ channel: "C2", text: "lost?" }))).toMatchObject({
      code: "slack_webapi_request_error",
    });
    expect(s.messages("T1", "C2")).toHaveLength(0);
  });

  it("chat.postMessage about once a second per channel: limitPostsPerChannel, or rateTiers 'all'", async () => {
    const s = await startSim();
    const client = simWebClient(s);
    s.limitPostsPerChannel();
    await client.chat.postMessage({ channel: "C1", text: "one" });
    const limited = await platformError(client.chat.postMessage({ channel: "C1", text: "two" }));
    expect(limited).toMatchObject({ code: "slack_webapi_rate_limited_error", retryAfter: 1 });
    await client.chat.postMessage({ channel: "C2", text: "elsewhere" });
    s.clearMethodLimit("chat.postMessage");
    await client.chat.postMessage({ channel: "C1", text: "two" });
    // An empty thread_ts is not "no thread" for Slack.
    expect(await platformError(client.chat.postMessage({ channel: "C1", thread_ts: "", text: "x" }))).toMatchObject({
      error: "invalid_thread_ts",
    });

    s.rateTiers = "all";
    await client.chat.postMessage({ channel: "C3", text: "a" });
    expect(await platformError(client.chat.postMessage({ channel: "C3", text: "b" }))).toMatchObject({
      code: "slack_webapi_rate_limited_error",
    });
    // …and chat.update at Tier 3: 50 a minute per workspace.
    const target = await client.chat.postMessage({ channel: "C4", text: "v0" });
    for (let i = 1; i <= 50; i++) await client.chat.update({ channel: "C4", ts: target.ts ?? "", text: `v${i}` });
    expect(await platformError(client.chat.update({ channel: "C4", ts: target.ts ?? "", text: "v51" }))).toMatchObject({
      code: "slack_webapi_rate_limited_error",
    });
    expect(s.rateLimited().map((c) => c.method)).toEqual(["chat.postMessage", "chat.postMessage", "chat.update"]);
  });

  it("signs deliveries and postSigned requests with a skewed timestamp, future or past, correctly", async () => {
    const s = await startSim();
    const { url, requests } = await recorder();
    const secret = "sim-signing-secret";
    s.setHttpDelivery({ url, signingSecret: secret, timestampOffsetSec: 600 });
    await s.userMentions("T1", { channel: "C1", user: "U1", text: "from the future", alsoMessageEvent: false }).event.waitAck();
    const future = Math.floor(Date.now() / 1000) + 300 + 60;
    await postSigned(url, { type: "event_callback" }, { secret, timestamp: future });
    s.setHttpDelivery({ url, signingSecret: secret, timestampOffsetSec: -600 });
    await s.sendSlashCommand("T1", { command: "/help" }).waitAck();
    const now = Math.floor(Date.now() / 1000);
    const skews = requests.map((r) => Number(r.headers["x-slack-request-timestamp"]) - now);
    expect(skews[0]).toBeGreaterThanOrEqual(595);
    expect(skews[1]).toBeGreaterThanOrEqual(355);
    expect(skews[2]).toBeLessThanOrEqual(-595);
    for (const r of requests) {
      const expected = `v0=${createHmac("sha256", secret).update(`v0:${r.headers["x-slack-request-timestamp"]}:${r.body}`).digest("hex")}`;
      expect(r.headers["x-slack-signature"]).toBe(expected);
    }
  });
});
