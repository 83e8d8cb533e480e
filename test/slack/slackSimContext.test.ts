import { App, LogLevel } from "@slack/bolt";
import { afterEach, describe, expect, it } from "vitest";
import { platformError, simWebClient } from "../sim/slack/clients.ts";
import { NON_MARKETPLACE_PAGE_LIMIT, SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

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

describe("Slack simulator: context the bot reads", () => {
  it("conversations.replies pages a thread (limit, cursor, oldest/latest/inclusive) and shows metadata only when asked", async () => {
    const s = await startSim();
    const client = simWebClient(s);
    const parent = s.userMessage("T1", { channel: "C1", user: "U1", text: "thread start" });
    const replies: string[] = [];
    for (let i = 1; i <= 24; i++)
      replies.push(s.userMessage("T1", { channel: "C1", user: `U${(i % 3) + 1}`, text: `reply ${i}`, threadTs: parent.ts }).ts);
    await client.chat.postMessage({
      channel: "C1",
      thread_ts: parent.ts,
      text: "bot says",
      metadata: { event_type: "qwen_reply", event_payload: { job: "j1" } },
    });

    const texts: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.conversations.replies({ channel: "C1", ts: replies[5] ?? "", limit: 10, ...(cursor ? { cursor } : {}) });
      texts.push(...(page.messages ?? []).map((m) => m.text ?? ""));
      cursor = page.response_metadata?.next_cursor || undefined;
      expect(page.has_more).toBe(cursor !== undefined);
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(texts).toEqual(["thread start", ...replies.map((_, i) => `reply ${i + 1}`), "bot says"]);

    const window = await client.conversations.replies({
      channel: "C1",
      ts: parent.ts,
      oldest: replies[2],
      latest: replies[5],
      inclusive: true,
    });
    expect(window.messages?.map((m) => m.text)).toEqual(["thread start", "reply 3", "reply 4", "reply 5", "reply 6"]);
    const exclusive = await client.conversations.replies({ channel: "C1", ts: parent.ts, oldest: replies[2], latest: replies[5] });
    expect(exclusive.messages?.map((m) => m.text)).toEqual(["thread start", "reply 4", "reply 5"]);
    const plain = await client.conversations.replies({ channel: "C1", ts: parent.ts });
    expect(plain.messages?.at(-1)).not.toHaveProperty("metadata");
    const withMeta = await client.conversations.replies({ channel: "C1", ts: parent.ts, include_all_metadata: true });
    expect(withMeta.messages?.at(-1)).toMatchObject({
      text: "bot says",
      metadata: { event_type: "qwen_reply", event_payload: { job: "j1" } },
    });
    expect(await platformError(client.conversations.replies({ channel: "C1", ts: parent.ts, cursor: "bogus" }))).toMatchObject({
      error: "invalid_cursor",
    });
    expect(await platformError(client.conversations.replies({ channel: "C1", ts: "1.000001" }))).toMatchObject({
      error: "thread_not_found",
    });
  });

  it("as a non-Marketplace app: 15 messages a page and one call a minute (Slack's 2025-05-29 rules)", async () => {
    const s = await startSim({ nonMarketplaceApp: true });
    const client = simWebClient(s);
    const parent = s.userMessage("T1", { channel: "C1", user: "U1", text: "start" });
    for (let i = 1; i <= 30; i++) s.userMessage("T1", { channel: "C1", user: "U1", text: `r${i}`, threadTs: parent.ts });
    const first = await client.conversations.replies({ channel: "C1", ts: parent.ts, limit: 200 });
    expect(first.messages).toHaveLength(NON_MARKETPLACE_PAGE_LIMIT);
    expect(first.has_more).toBe(true);
    const second = await platformError(
      client.conversations.replies({ channel: "C1", ts: parent.ts, cursor: first.response_metadata?.next_cursor ?? "" }),
    );
    expect(second.code).toBe("slack_webapi_rate_limited_error");
    expect(second.retryAfter).toBeGreaterThan(50);
    expect(second.retryAfter).toBeLessThanOrEqual(60);
    // history has its own one-a-minute budget; another workspace too.
    expect((await client.conversations.history({ channel: "C1" })).messages).toHaveLength(1);
    s.nonMarketplaceApp = false;
    expect((await client.conversations.replies({ channel: "C1", ts: parent.ts })).messages).toHaveLength(31);
  });

  it("users.info reports admins, owners, the primary owner and guests", async () => {
    const s = await startSim();
    const client = simWebClient(s);
    s.addUser("T1", { id: "UOWN", isPrimaryOwner: true });
    s.addUser("T1", { id: "UADM", isAdmin: true });
    s.addUser("T1", { id: "UGST", isRestricted: true });
    s.userMessage("T1", { channel: "C1", user: "UPLAIN", text: "hi" });
    const roles = async (user: string) => {
      const u = (await client.users.info({ user })).user;
      return [u?.is_admin, u?.is_owner, u?.is_primary_owner, u?.is_restricted];
    };
    expect(await roles("UOWN")).toEqual([true, true, true, false]);
    expect(await roles("UADM")).toEqual([true, false, false, false]);
    expect(await roles("UGST")).toEqual([false, false, false, true]);
    expect(await roles("UPLAIN")).toEqual([false, false, false, false]);
    expect(await platformError(client.users.info({ user: "U404" }))).toMatchObject({ error: "user_not_found" });
  });
});

describe("Slack simulator: more slash commands and modals", () => {
  it("delivers any registered command (/ask-settings, /imagine, /help) and opens, validates and submits a modal", async () => {
    const s = await startSim();
    const app = socketApp(s);
    const commands: string[] = [];
    const submissions: Array<Record<string, unknown>> = [];
    app.command(/^\/(ask-settings|imagine|help)$/, async ({ command, ack, client }) => {
      commands.push(`${command.command} ${command.text}`);
      await ack();
      if (command.command === "/ask-settings") {
        await client.views.open({
          trigger_id: command.trigger_id,
          view: {
            type: "modal",
            callback_id: "settings",
            private_metadata: command.channel_id,
            title: { type: "plain_text", text: "Channel settings" },
            submit: { type: "plain_text", text: "Save" },
            blocks: [
              {
                type: "input",
                block_id: "temp",
                label: { type: "plain_text", text: "Temperature" },
                element: { type: "plain_text_input", action_id: "value" },
              },
            ],
          },
        });
      }
    });
    app.view("settings", async ({ ack, view }) => {
      const value = (view.state.values.temp?.value as { value?: string } | undefined)?.value ?? "";
      submissions.push({ value, channel: view.private_metadata });
      if (Number(value) > 2) await ack({ response_action: "errors", errors: { temp: "Between 0 and 2" } });
      else await ack();
    });
    await app.start();
    await s.waitForConnect();

    for (const [command, text] of [
      ["/imagine", "a red fox size:512x512"],
      ["/help", ""],
      ["/ask-settings", "show"],
    ] as const) {
      await s.sendSlashCommand("T1", { command, text, user_id: "UADM", channel_id: "C1" }).waitAck();
    }
    expect(commands).toEqual(["/imagine a red fox size:512x512", "/help ", "/ask-settings show"]);
    await waitFor(() => s.views("T1").length === 1);
    const view = s.views("T1")[0];
    expect(view).toMatchObject({ user: "UADM", closed: false, view: { callback_id: "settings", private_metadata: "C1" } });

    const refused = s.submitView("T1", { viewId: view?.id ?? "", values: { temp: { value: "3" } } });
    expect((await refused.waitAck()).payload).toEqual({ response_action: "errors", errors: { temp: "Between 0 and 2" } });
    expect(s.views("T1")[0]?.closed).toBe(false);
    await s.submitView("T1", { viewId: view?.id ?? "", values: { temp: { value: "0.7" } } }).waitAck();
    expect(s.views("T1")[0]?.closed).toBe(true);
    expect(submissions).toEqual([
      { value: "3", channel: "C1" },
      { value: "0.7", channel: "C1" },
    ]);
  });

  it("views.open takes a trigger once and within its time; a view is checked like Slack checks it", async () => {
    const s = await startSim();
    const client = simWebClient(s);
    const view = { type: "modal" as const, title: { type: "plain_text" as const, text: "Help" }, blocks: [] };
    const trigger = String(s.buildSlashCommandPayload("T1", { command: "/help", user_id: "U1" }).trigger_id);
    expect(await platformError(client.views.open({ trigger_id: "1.2.bogus", view }))).toMatchObject({ error: "invalid_trigger_id" });
    expect(
      await platformError(
        client.views.open({ trigger_id: trigger, view: { ...view, title: { type: "plain_text", text: "x".repeat(25) } } }),
      ),
    ).toMatchObject({
      error: "invalid_arguments",
      data: { response_metadata: { messages: [expect.stringContaining("/view/title/text")] } },
    });
    const opened = await client.views.open({ trigger_id: trigger, view });
    expect(opened.view).toMatchObject({ type: "modal", title: { text: "Help" }, app_id: "A0SIMAPP", bot_id: "B0BOT" });
    expect(await platformError(client.views.open({ trigger_id: trigger, view }))).toMatchObject({ error: "exchanged_trigger_id" });
    await client.views.update({ view_id: opened.view?.id ?? "", view: { ...view, title: { type: "plain_text", text: "Help (2)" } } });
    expect(s.views("T1")[0]?.versions).toHaveLength(2);
    expect(await platformError(client.views.update({ view_id: opened.view?.id ?? "", hash: "stale", view }))).toMatchObject({
      error: "hash_conflict",
    });
    s.setTimeouts({ triggerMs: 50 });
    const late = String(s.buildSlashCommandPayload("T1", { command: "/help", user_id: "U1" }).trigger_id);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await platformError(client.views.open({ trigger_id: late, view }))).toMatchObject({ error: "expired_trigger_id" });
  });
});
