/**
 * `/settings`, `/help` and the ping-off hint through the real discord.js client against the
 * simulator, with the tiny model answering: who may change what (Manage Channels, Manage Server,
 * DISCORD_SETTINGS_ROLES), ephemeral answers, the audit log, refusals with the allowed values,
 * autocomplete, and the settings reaching the intake (switched off, memory per user) and the worker
 * (every request carries its place).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DISABLED_TEXT, SettingsStore } from "../../src/settings/SettingsStore.ts";
import { settingsOptionsFrom } from "../../src/settings/settingsCatalog.ts";
import { Permission } from "../sim/discord/DiscordSimulator.ts";
import { ALICE, BOB, BOT, CH, DM, discordTestbed, GUILD } from "./discordTestbed.ts";

const tb = discordTestbed();
const ROLE_CHANNELS = "600000000000000001";
const ROLE_SERVER = "600000000000000002";
const ROLE_LISTED = "600000000000000003";
const CAROL = { id: "500000000000000003", username: "carol" };
let store: SettingsStore;

beforeAll(async () => {
  tb.sim.addRole(GUILD, { id: ROLE_CHANNELS, name: "mods", permissions: Permission.ManageChannels });
  tb.sim.addRole(GUILD, { id: ROLE_SERVER, name: "admins", permissions: Permission.ManageGuild });
  tb.sim.addRole(GUILD, { id: ROLE_LISTED, name: "bot-keepers", permissions: 0n });
  tb.sim.addMember(GUILD, { user: CAROL, roles: [ROLE_LISTED] });
  store = new SettingsStore(tb.h.redis, tb.h.keys, settingsOptionsFrom(tb.config), tb.h.logger);
  await tb.useAdapter({ ...tb.config, DISCORD_SETTINGS_ROLES: [ROLE_LISTED] }, { settings: store });
});

type User = { id: string; username: string };
async function settings(
  sub: "show" | "set" | "reset",
  options: Record<string, string>,
  user: User = ALICE,
  channelId: string = CH.settings,
): Promise<{ content: string; ephemeral: boolean }> {
  const handle = tb.sim.interaction({ type: 2, name: "settings", subcommand: sub, options, channelId, user });
  const r = await handle.waitForResponse((x) => x.kind === "callback");
  return { content: r.content ?? "", ephemeral: r.ephemeral };
}
const channelScope = (channelId: string) => ({ level: "channel", platform: "discord", workspaceId: GUILD, channelId }) as const;
const setHere = async (channelId: string, key: string) => (await store.show(channelScope(channelId))).settings.find((s) => s.name === key)!;

describe("/settings", () => {
  it("is refused to a plain member, naming the permission needed; nothing is stored", async () => {
    const channel = await settings("set", { key: "temperature", value: "0.3" });
    expect(channel.ephemeral).toBe(true);
    expect(channel.content).toMatch(/Manage Channels/);
    const server = await settings("set", { key: "temperature", value: "0.3", scope: "server" });
    expect(server.content).toMatch(/Manage Server/);
    expect((await setHere(CH.settings, "temperature")).source).toBe("default");
    expect(await store.recentChanges()).toEqual([]);
  });

  it("Manage Channels changes the channel (not the server); answered ephemerally, audited, shown, and the next reply carries its place", async () => {
    tb.sim.setMemberRoles(GUILD, BOB.id, [ROLE_CHANNELS]);
    const set = await settings("set", { key: "temperature", value: "0.3" }, BOB);
    expect(set.ephemeral).toBe(true);
    expect(set.content).toMatch(/temperature is now 0\.3 for this channel/);
    expect((await settings("set", { key: "top-k", value: "5", scope: "server" }, BOB)).content).toMatch(/Manage Server/);
    const [change] = await store.recentChanges(1);
    expect(change).toMatchObject({ actor: { id: BOB.id }, scope: `discord:${GUILD}:${CH.settings}`, setting: "temperature", to: "0.3" });
    expect(typeof change!.at).toBe("number");
    const shown = await settings("show", {}, BOB);
    expect(shown.ephemeral).toBe(true);
    expect(shown.content).toContain("`temperature`: 0.3 — set for this channel");
    const m = tb.say(CH.settings, "hello there");
    const e = await tb.generated(`discord-${m.id}`);
    expect(e.request.place).toEqual({ platform: "discord", workspaceId: GUILD, channelId: CH.settings });
    const reset = await settings("reset", { key: "temperature" }, BOB);
    expect(reset.content).toMatch(/Reset for this channel: temperature/);
    expect((await setHere(CH.settings, "temperature")).source).toBe("default");
  });

  it("refuses values out of range and unknown settings with the allowed values; nothing is stored", async () => {
    tb.sim.setMemberRoles(GUILD, BOB.id, [ROLE_CHANNELS]);
    const before = (await store.recentChanges(100)).length;
    expect((await settings("set", { key: "temperature", value: "5" }, BOB)).content).toMatch(/from 0 to 2.*nothing was changed/);
    expect((await settings("set", { key: "system-prompt", value: "x".repeat(5000) }, BOB)).content).toMatch(/at most \d+ are allowed/);
    expect((await settings("set", { key: "colour", value: "red" }, BOB)).content).toMatch(/There is no setting "colour"/);
    expect((await settings("set", { key: "memory-scope", value: "user", scope: "thread" }, BOB)).content).toMatch(/no thread here/);
    expect((await store.recentChanges(100)).length).toBe(before);
  });

  it("a role listed in DISCORD_SETTINGS_ROLES may change the server's settings; Manage Server may too", async () => {
    const carol = await settings("set", { key: "history-length", value: "6", scope: "server" }, CAROL);
    expect(carol.content).toMatch(/history-length is now 6 for this server/);
    tb.sim.setMemberRoles(GUILD, BOB.id, [ROLE_SERVER]);
    expect((await settings("reset", { key: "all", scope: "server" }, BOB)).content).toMatch(/Reset for this server: history-length/);
  });

  it("in a channel where the bot cannot post, the change is stored and the answer says the bot can't answer there", async () => {
    tb.sim.setMemberRoles(GUILD, BOB.id, [ROLE_CHANNELS]);
    tb.sim.setChannelOverwrite(CH.settingsMuted, { id: BOT, type: 1, deny: Permission.SendMessages });
    const r = await settings("set", { key: "top-k", value: "5" }, BOB, CH.settingsMuted);
    expect(r.ephemeral).toBe(true);
    expect(r.content).toMatch(/top-k is now 5 for this channel/);
    expect(r.content).toMatch(/can't answer in this channel until I get the \*\*Send Messages\*\* permission/);
    expect((await setHere(CH.settingsMuted, "top-k")).source).toBe("channel");
  });

  it("thread-per-mention set for a channel opens a thread there; settings set for that thread apply inside it", async () => {
    tb.sim.setMemberRoles(GUILD, BOB.id, [ROLE_CHANNELS]);
    await settings("set", { key: "thread-per-mention", value: "on" }, BOB, CH.settingsThread);
    const u = tb.say(CH.settingsThread, "open a thread please");
    const e = await tb.generated(`discord-${u.id}`);
    expect(tb.sim.channel(u.id)).toMatchObject({ type: 11, parent_id: CH.settingsThread });
    expect(e.request.place).toEqual({ platform: "discord", workspaceId: GUILD, channelId: CH.settingsThread, threadId: u.id });
    const inThread = await settings("set", { key: "temperature", value: "0.1" }, BOB, u.id);
    expect(inThread.content).toMatch(/temperature is now 0\.1 for this thread/);
    const resolved = await store.resolve({ platform: "discord", workspaceId: GUILD, channelId: CH.settingsThread, threadId: u.id });
    expect(resolved.values).toMatchObject({ temperature: 0.1, threadPerMention: true });
    expect(resolved.sources).toMatchObject({ temperature: "thread", threadPerMention: "channel" });
  });

  it("in a DM it says settings are per server", async () => {
    const r = await settings("show", {}, ALICE, DM);
    expect(r.content).toMatch(/per server, channel or thread/);
  });

  it("autocompletes setting names and their values", async () => {
    const key = tb.sim.interaction({
      type: 4,
      name: "settings",
      subcommand: "set",
      options: { key: "te" },
      focused: "key",
      channelId: CH.settings,
      user: BOB,
    });
    await key.waitForResponse((x) => x.kind === "callback");
    expect((key.choices() as Array<{ value: string }>).map((c) => c.value)).toContain("temperature");
    const value = tb.sim.interaction({
      type: 4,
      name: "settings",
      subcommand: "set",
      options: { key: "memory-scope", value: "" },
      focused: "value",
      channelId: CH.settings,
      user: BOB,
    });
    await value.waitForResponse((x) => x.kind === "callback");
    expect((value.choices() as Array<{ value: string }>).map((c) => c.value)).toEqual(["thread", "channel", "user"]);
    const range = tb.sim.interaction({
      type: 4,
      name: "settings",
      subcommand: "set",
      options: { key: "temperature", value: "9" },
      focused: "value",
      channelId: CH.settings,
      user: BOB,
    });
    await range.waitForResponse((x) => x.kind === "callback");
    expect((range.choices() as Array<{ name: string }>)[0]!.name).toMatch(/9 — a number from 0 to 2/);
  });

  it("switched off: a mention gets the switched-off answer and nothing is queued; /help says so; memory per user splits conversations", async () => {
    tb.sim.setMemberRoles(GUILD, BOB.id, [ROLE_CHANNELS]);
    await settings("set", { key: "enabled", value: "off" }, BOB, CH.settingsOff);
    const m = tb.say(CH.settingsOff, "are you there?");
    const answer = await tb.sim.waitFor(
      () => tb.botMessages(CH.settingsOff).find((x) => x.messageReference?.message_id === m.id),
      5000,
      "answer",
    );
    expect(answer.content).toBe(DISABLED_TEXT);
    expect(tb.events.some((e) => e.request.requestId === `discord-${m.id}`)).toBe(false);
    const help = tb.sim.interaction({ type: 2, name: "help", channelId: CH.settingsOff, user: ALICE });
    const r = await help.waitForResponse((x) => x.kind === "callback");
    expect(r.ephemeral).toBe(true);
    expect(r.content).toMatch(/\/imagine/);
    expect(r.content).toMatch(/switched off here.*`enabled` false/s);

    await settings("set", { key: "memory-scope", value: "user" }, BOB, CH.settingsUser);
    const a = tb.say(CH.settingsUser, "mine", ALICE);
    const b = tb.say(CH.settingsUser, "mine too", BOB);
    const [ea, eb] = await Promise.all([tb.generated(`discord-${a.id}`), tb.generated(`discord-${b.id}`)]);
    expect(ea.request.conversationKey).toBe(`discord:${GUILD}:${CH.settingsUser}:user:${ALICE.id}`);
    expect(eb.request.conversationKey).toBe(`discord:${GUILD}:${CH.settingsUser}:user:${BOB.id}`);
  });
});

describe("/help and the ping-off hint", () => {
  it("/help lists the commands and how conversations work, with the defaults here", async () => {
    const help = tb.sim.interaction({ type: 2, name: "help", channelId: CH.pingHint, user: ALICE });
    const r = await help.waitForResponse((x) => x.kind === "callback");
    expect(r.ephemeral).toBe(true);
    for (const c of ["/ask", "/imagine", "/reset", "/settings", "/help"]) expect(r.content).toContain(c);
    expect(r.content).toMatch(/everyone here shares one conversation/);
    expect(r.content).toMatch(/All settings are the defaults here/);
  });

  it("a reply to the bot with the ping off gets one short hint (not one per message); with the ping on it is answered", async () => {
    const q = tb.say(CH.pingHint, "first question");
    await tb.generated(`discord-${q.id}`);
    const answer = await tb.placeholderOf(q.id);
    const off1 = tb.sim.userSays({
      channelId: CH.pingHint,
      author: ALICE,
      content: "and then?",
      messageReference: { messageId: answer.id, ping: false },
    });
    const hint = await tb.sim.waitFor(
      () => tb.botMessages(CH.pingHint).find((m) => m.messageReference?.message_id === off1.id),
      5000,
      "hint",
    );
    expect(hint.content).toMatch(/keep the ping on/);
    const off2 = tb.sim.userSays({
      channelId: CH.pingHint,
      author: ALICE,
      content: "hello?",
      messageReference: { messageId: answer.id, ping: false },
    });
    const on = tb.sim.userSays({ channelId: CH.pingHint, author: ALICE, content: "and now?", messageReference: { messageId: answer.id } });
    const e = await tb.generated(`discord-${on.id}`);
    expect(e.request.context?.replyTo).toMatchObject({ isBot: true });
    expect(tb.botMessages(CH.pingHint).some((m) => m.messageReference?.message_id === off2.id)).toBe(false);
    tb.expectNoPings([CH.pingHint]);
  });
});
