import { App, LogLevel } from "@slack/bolt";
import { afterEach, describe, expect, it } from "vitest";
import { platformError, simWebClient } from "../sim/slack/clients.ts";
import { SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const BOT_TOKEN = "xoxb-T1-simtoken";
const APP_TOKEN = "xapp-1-A0SIMAPP-simtoken";

let sim: SlackSimulator | undefined;
const apps: App[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop().catch(() => undefined);
  await sim?.stop();
  sim = undefined;
});

async function startedApp(): Promise<{ s: SlackSimulator; app: App; events: Array<Record<string, unknown>> }> {
  const s = await SlackSimulator.start();
  sim = s;
  const app = new App({
    token: BOT_TOKEN,
    appToken: APP_TOKEN,
    socketMode: true,
    clientOptions: { slackApiUrl: s.apiUrl },
    logLevel: LogLevel.ERROR,
  });
  apps.push(app);
  const events: Array<Record<string, unknown>> = [];
  app.event("message", async ({ event }) => {
    events.push(event as unknown as Record<string, unknown>);
  });
  await app.start();
  await s.waitForConnect();
  return { s, app, events };
}

describe("Slack simulator: deletions and edits by people", () => {
  it("an admin deletes the bot's reply mid-stream: message_deleted with previous_message, then message_not_found everywhere", async () => {
    const { s, events } = await startedApp();
    s.addUser("T1", { id: "UADMIN", isAdmin: true });
    const client = simWebClient(s);
    const question = s.userMentions("T1", { channel: "C1", user: "U1", text: "write a long story", alsoMessageEvent: false });
    const placeholder = await client.chat.postMessage({ channel: "C1", thread_ts: question.ts, text: "⏳ Thinking…" });
    const stream = await client.chat.startStream({
      channel: "C1",
      thread_ts: question.ts,
      recipient_team_id: "T1",
      recipient_user_id: "U1",
      markdown_text: "Once upon",
    });

    s.deleteMessage("T1", { channel: "C1", ts: stream.ts ?? "", by: "UADMIN" });
    s.deleteMessage("T1", { channel: "C1", ts: placeholder.ts ?? "", by: "UADMIN" });
    await waitFor(() => events.length === 2);
    expect(events[0]).toMatchObject({
      type: "message",
      subtype: "message_deleted",
      hidden: true,
      channel: "C1",
      channel_type: "channel",
      deleted_ts: stream.ts,
      previous_message: { ts: stream.ts, text: "Once upon", bot_id: "B0BOT", thread_ts: question.ts },
    });
    expect(events[1]).toMatchObject({ subtype: "message_deleted", deleted_ts: placeholder.ts, previous_message: { text: "⏳ Thinking…" } });

    expect(await platformError(client.chat.appendStream({ channel: "C1", ts: stream.ts ?? "", markdown_text: " a time" }))).toMatchObject({
      error: "message_not_found",
    });
    expect(await platformError(client.chat.stopStream({ channel: "C1", ts: stream.ts ?? "" }))).toMatchObject({
      error: "message_not_found",
    });
    expect(await platformError(client.chat.update({ channel: "C1", ts: placeholder.ts ?? "", text: "answer" }))).toMatchObject({
      error: "message_not_found",
    });
    expect(s.thread("T1", "C1", question.ts).map((m) => m.ts)).toEqual([question.ts]);
    const gone = s.messages("T1", "C1", { includeDeleted: true }).filter((m) => m.deleted);
    expect(gone.map((m) => m.text)).toEqual(["⏳ Thinking…", "Once upon"]);
    expect((await client.users.info({ user: "UADMIN" })).user).toMatchObject({ is_admin: true, is_owner: false, is_primary_owner: false });
  });

  it("a user edits their question: message_changed with the new text, edited, and previous_message", async () => {
    const { s, events } = await startedApp();
    const question = s.userMessage("T1", { channel: "C1", user: "U1", text: "what is 2+3?" });
    await waitFor(() => events.length === 1);
    s.userEdits("T1", { channel: "C1", ts: question.ts, text: "what is 2+2?" });
    await waitFor(() => events.length === 2);
    expect(events[1]).toMatchObject({
      type: "message",
      subtype: "message_changed",
      hidden: true,
      channel: "C1",
      message: { ts: question.ts, text: "what is 2+2?", user: "U1", edited: { user: "U1" } },
      previous_message: { ts: question.ts, text: "what is 2+3?" },
    });
    expect(s.message("T1", "C1", question.ts)).toMatchObject({
      text: "what is 2+2?",
      edits: 1,
      versions: ["what is 2+3?", "what is 2+2?"],
    });
    // The user deletes it.
    s.deleteMessage("T1", { channel: "C1", ts: question.ts });
    await waitFor(() => events.length === 3);
    expect(events[2]).toMatchObject({ subtype: "message_deleted", deleted_ts: question.ts, previous_message: { text: "what is 2+2?" } });
    expect(() => s.userEdits("T1", { channel: "C1", ts: question.ts, text: "again" })).toThrow(/no message/);
  });
});
