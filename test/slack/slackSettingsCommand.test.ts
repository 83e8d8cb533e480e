/**
 * `/ask-settings` and `/ask-help` through the real Bolt app against the Slack simulator: who may
 * change settings (workspace admins and owners from users.info, users listed in
 * SLACK_SETTINGS_USERS), refusals that say what is needed, ranges, scopes (workspace, channel, a
 * thread named by a link), the audit log, and that a message then carries its place (and is
 * refused where the bot is switched off).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseThreadRef, SETTINGS_REFUSAL } from "../../adapters/slack/slackSettingsCommand.ts";
import { readOverrides, readRecentChanges } from "../../src/settings/SettingsStore.ts";
import { waitFor } from "../sim/slack/SlackSimulator.ts";
import { type SlackBed, startSlackBed } from "./slackFeatureTestbed.ts";

let bed: SlackBed;

beforeAll(async () => {
  bed = await startSlackBed({ env: { SLACK_SETTINGS_USERS: "ULISTED, UOTHER" } });
  bed.sim.addUser("T1", { id: "UADMIN", name: "ada", isAdmin: true });
  bed.sim.addUser("T1", { id: "UOWNER", name: "olga", isOwner: true });
  bed.sim.addUser("T1", { id: "UPLAIN", name: "paul" });
  bed.sim.addUser("T1", { id: "ULISTED", name: "lisa" });
});
afterAll(async () => {
  await bed?.close();
});

const overrides = async () => Object.fromEntries((await readOverrides(bed.h.redis, bed.h.keys)).map((o) => [o.scope, o.settings]));

describe("/ask-settings", () => {
  it("refuses a plain member's change, saying which permission is needed; nothing is stored", async () => {
    const answer = await bed.command("T1", "/ask-settings", "set temperature 0.3", "UPLAIN");
    expect(answer).toBe(SETTINGS_REFUSAL);
    expect(answer).toMatch(/admins and owners/);
    expect(await overrides()).toEqual({});
    // The same in a DM with the bot.
    expect(await bed.command("T1", "/ask-settings", "reset all", "UPLAIN", "DUPLAIN")).toBe(SETTINGS_REFUSAL);
    // Looking is allowed to anyone.
    expect(await bed.command("T1", "/ask-settings", "show", "UPLAIN")).toMatch(/^Settings for this channel:\n• `system-prompt`/);
  });

  it("lets an admin set a channel setting: answered privately, audited with who/what/when, shown with its source", async () => {
    const before = Date.now();
    const answer = await bed.command("T1", "/ask-settings", "set temperature 0.3", "UADMIN");
    expect(answer).toMatch(/^temperature is now 0\.3 for this channel/);
    // Only ephemerals: nothing was posted in the channel.
    expect(bed.sim.messages("T1", "C1")).toEqual([]);
    expect(await overrides()).toEqual({ "slack:T1:C1": { temperature: "0.3" } });
    const [change] = await readRecentChanges(bed.h.redis, bed.h.keys, 1);
    expect(change).toMatchObject({ actor: { id: "UADMIN" }, scope: "slack:T1:C1", setting: "temperature", action: "set", to: "0.3" });
    expect(change!.at).toBeGreaterThanOrEqual(before);
    const shown = await bed.command("T1", "/ask-settings", "show", "UADMIN");
    expect(shown).toContain("• `temperature`: 0.3 — set for this channel");
    // The channel's setting does not leak into another channel.
    expect(await bed.command("T1", "/ask-settings", "show", "UADMIN", "C2")).toContain("• `temperature`: ");
    expect(await bed.command("T1", "/ask-settings", "show", "UADMIN", "C2")).not.toContain("0.3 — set for this channel");
  });

  it("refuses out-of-range values and unknown settings with what is allowed; nothing is stored", async () => {
    const hot = await bed.command("T1", "/ask-settings", "set temperature 5", "UOWNER");
    expect(hot).toMatch(/^temperature must be a number from 0 to 2 \(got "5"\); nothing was changed\.$/);
    const unknown = await bed.command("T1", "/ask-settings", "set loudness 11", "UOWNER");
    expect(unknown).toMatch(/There is no setting "loudness"\. The settings are: system-prompt, temperature/);
    const noValue = await bed.command("T1", "/ask-settings", "set top-k", "UOWNER");
    expect(noValue).toMatch(/needs a value/);
    const long = await bed.command(
      "T1",
      "/ask-settings",
      `set system-prompt ${"x".repeat(bed.config.MAX_SYSTEM_PROMPT_CHARS + 1)}`,
      "UOWNER",
    );
    expect(long).toMatch(/^system-prompt .*nothing was changed\.$/);
    expect(await overrides()).toEqual({ "slack:T1:C1": { temperature: "0.3" } });
  });

  it("lets a listed user set the workspace's persona (kept as typed, Slack's escaping undone)", async () => {
    const answer = await bed.command("T1", "/ask-settings", "set workspace system-prompt You are a pirate &amp; a poet.", "ULISTED");
    expect(answer).toBe('system-prompt is now "You are a pirate & a poet." for this workspace.');
    expect((await overrides())["slack:T1"]).toEqual({ "system-prompt": '"You are a pirate & a poet."' });
  });

  it("names a thread by a message link (Slack never sends commands from threads)", async () => {
    const answer = await bed.command(
      "T1",
      "/ask-settings",
      "set thread <https://acme.slack.com/archives/C1/p1700000000123456> top-k 5",
      "UADMIN",
    );
    expect(answer).toMatch(/^top-k is now 5 for this thread/);
    expect((await overrides())["slack:T1:C1:1700000000.123456"]).toEqual({ "top-k": "5" });
    expect(await bed.command("T1", "/ask-settings", "show thread nonsense", "UADMIN")).toMatch(/link to one of its messages/);
    expect(parseThreadRef("https://a.slack.com/archives/C9/p1700000001000200?thread_ts=1700000000.000100&cid=C9", "C1")).toEqual({
      channelId: "C9",
      threadTs: "1700000000.000100",
    });
    expect(parseThreadRef("1700000000.000100", "C1")).toEqual({ channelId: "C1", threadTs: "1700000000.000100" });
  });

  it("says it could not check the role when users.info fails, and changes nothing", async () => {
    bed.sim.failNext("users.info", { error: "fatal_error" });
    const answer = await bed.command("T1", "/ask-settings", "set temperature 0.9", "UADMIN");
    expect(answer).toMatch(/couldn't check your role/);
    expect((await overrides())["slack:T1:C1"]).toEqual({ temperature: "0.3" });
  });

  it("answers usage for no or an unknown action", async () => {
    expect(await bed.command("T1", "/ask-settings", "", "UPLAIN")).toMatch(/^\*`\/ask-settings`\*/);
    expect(await bed.command("T1", "/ask-settings", "frobnicate", "UPLAIN")).toMatch(/I don't know `frobnicate`/);
  });
});

describe("/ask-help", () => {
  it("lists the commands, how conversations work, and this channel's settings in brief — ephemeral", async () => {
    const help = await bed.command("T1", "/ask-help", "", "UPLAIN");
    for (const part of ["`/ask <question>`", "Mention me", "`/imagine", "`/ask-settings", "*Stop*", "Attach text files"]) {
      expect(help).toContain(part);
    }
    expect(help).toContain('*This channel*: Changed here: `system-prompt` "You are a pirate & a poet.", `temperature` 0.3.');
    // `/ask help` is the same help.
    expect(await bed.command("T1", "/ask", "help", "UPLAIN")).toBe(help);
    expect(await bed.command("T1", "/ask-help", "", "UPLAIN", "C2")).toMatch(/\*This channel\*: Changed here: `system-prompt`/);
    expect(bed.sim.messages("T1", "C1")).toEqual([]);
  });
});

describe("settings at the intake", () => {
  it("a mention carries its place (the worker answers with that place's settings)", async () => {
    const m = bed.sim.userMentions("T1", { channel: "C1", user: "UPLAIN", text: "hello there" });
    const request = await bed.queued(`slack-T1-C1-${m.ts}`);
    expect(request.place).toEqual({ platform: "slack", workspaceId: "T1", channelId: "C1", threadId: m.ts });
    expect(request.conversationKey).toBe(`slack:T1:C1:${m.ts}`);
  });

  it("memory-scope channel: a mention joins the channel's conversation", async () => {
    expect(await bed.command("T1", "/ask-settings", "set channel memory-scope channel", "UADMIN", "C3")).toMatch(/memory-scope is now/);
    const m = bed.sim.userMentions("T1", { channel: "C3", user: "UPLAIN", text: "hello" });
    expect((await bed.queued(`slack-T1-C3-${m.ts}`)).conversationKey).toBe("slack:T1:C3");
  });

  it("where the bot is switched off, a mention is refused privately and nothing is posted or queued", async () => {
    expect(await bed.command("T1", "/ask-settings", "set enabled off", "UADMIN", "C4")).toMatch(/^enabled is now false/);
    const m = bed.sim.userMentions("T1", { channel: "C4", user: "UPLAIN", text: "are you there?" });
    await waitFor(() => bed.sim.ephemerals("T1", "C4").find((e) => e.user === "UPLAIN"), 10_000);
    expect(bed.sim.ephemerals("T1", "C4").at(-1)?.text).toMatch(/switched off here/);
    expect(bed.sim.messages("T1", "C4").filter((x) => x.bot_id)).toEqual([]);
    expect(await bed.request(`slack-T1-C4-${m.ts}`)).toBeUndefined();
    // The help says so too.
    expect(await bed.command("T1", "/ask-help", "", "UPLAIN", "C4")).toMatch(/I'm switched off in this channel/);
    expect(await bed.command("T1", "/ask-settings", "reset enabled", "UADMIN", "C4")).toMatch(/^Reset for this channel: enabled/);
  });
});
