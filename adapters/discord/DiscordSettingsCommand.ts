/**
 * `/settings show|set|reset` on Discord: the per-place settings (src/settings) of a server, a
 * channel or a thread. Who may: members with Manage Channels (channel and thread settings) or
 * Manage Server (server settings) — Administrator and the owner have both — plus members holding
 * a role listed in DISCORD_SETTINGS_ROLES. Everyone sees the command (no
 * `default_member_permissions`, so the listed roles can use it too); the bot checks, and a refusal
 * names the permission needed. Every answer is ephemeral; every change is validated (refused with
 * the allowed values, nothing stored), audited with who/what/when by SettingsStore and logged.
 *
 * `key` and `value` autocomplete from the settings catalog (the setting names with what they do;
 * the allowed values where they are a short list, else the typed value with the allowed range).
 */
import { type AutocompleteInteraction, type ChatInputCommandInteraction, PermissionFlagsBits } from "discord.js";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { Logger } from "../../src/logger.ts";
import { formatShownSettings } from "../../src/settings/formatSettings.ts";
import type { SettingsStore } from "../../src/settings/SettingsStore.ts";
import { findSetting, SETTING_KEYS, SETTING_NAMES } from "../../src/settings/settingsCatalog.ts";
import { MEMORY_SCOPES, type ScopeLevel, scopeOf } from "../../src/settings/settingsScope.ts";
import { DISCORD_MAX_LENGTH } from "../../src/text/splitMessage.ts";
import type { DiscordApi } from "./DiscordApi.ts";
import type { DiscordPlace } from "./discordConversation.ts";
import { authorOf, ephemeral, rolesOf } from "./discordInteraction.ts";
import { DISCORD_TEXT } from "./discordMessages.ts";
import { chatPlaceOf } from "./discordPlaceSettings.ts";

/** The `scope` option's choices, as Discord names the levels. */
const SCOPES: Record<string, ScopeLevel> = { server: "workspace", channel: "channel", thread: "thread" };
/** Discord's limits on an autocomplete choice. */
const CHOICES_MAX = 25;
const CHOICE_CHARS = 100;

export const SETTINGS_TEXT = {
  inDm: "Settings are per server, channel or thread — use `/settings` in a server. In direct messages the defaults apply.",
  noThread: "There is no thread here: use `/settings` inside the thread, or choose the scope `channel` or `server`.",
  needs: (permission: string, what: string) =>
    `Changing ${what} needs the **${permission}** permission (or a role the bot's operator allowed in DISCORD_SETTINGS_ROLES).`,
  cannotPost: (missing: string) => `\n-# Note: I can't answer in this channel until I get the ${missing} permission here.`,
} as const;

/** The command's definition (registered with the others). */
export function settingsCommandDefinition() {
  const scope = {
    type: 3,
    name: "scope",
    description: "Where: this thread, this channel (default outside threads) or the whole server",
    choices: Object.keys(SCOPES).map((name) => ({ name, value: name })),
  };
  const key = (description: string) => ({ type: 3, name: "key", description, required: true, autocomplete: true });
  return {
    name: "settings",
    description: "Show or change my settings here: persona, temperature, memory… (admins)",
    contexts: [0],
    integration_types: [0],
    options: [
      { type: 1, name: "show", description: "Every setting in force here, and where it comes from", options: [scope] },
      {
        type: 1,
        name: "set",
        description: "Change one setting here",
        options: [
          key("The setting"),
          { type: 3, name: "value", description: "The new value", required: true, autocomplete: true, max_length: 6000 },
          scope,
        ],
      },
      {
        type: 1,
        name: "reset",
        description: "Go back to the setting above (channel → server → default)",
        options: [key("The setting, or all"), scope],
      },
    ],
  };
}

export class DiscordSettingsCommand {
  constructor(
    private readonly deps: AdapterDeps,
    private readonly log: Logger,
    private readonly api: DiscordApi,
  ) {}

  async run(i: ChatInputCommandInteraction): Promise<void> {
    const store = this.deps.settings;
    if (!store) return ephemeral(i, DISCORD_TEXT.settingsUnavailable);
    if (!i.guildId) return ephemeral(i, SETTINGS_TEXT.inDm);
    const place = await this.api.placeOf(i.channel, i.channelId, i.guildId);
    const chosen = i.options.getString("scope");
    const level = chosen ? (SCOPES[chosen] ?? "channel") : place.isThread ? "thread" : "channel";
    if (level === "thread" && !place.isThread) return ephemeral(i, SETTINGS_TEXT.noThread);
    const refusal = this.refusal(i, level);
    if (refusal) {
      this.log.info({ userId: i.user.id, channelId: place.channelId, level }, "settings refused: missing permission");
      return ephemeral(i, refusal);
    }
    const scope = scopeOf(chatPlaceOf(place), level);
    const actor = authorOf(i.user, i.member);
    const sub = i.options.getSubcommand();
    let answer: string;
    try {
      if (sub === "show") answer = formatShownSettings(await store.show(scope));
      else if (sub === "set") {
        const outcome = await store.set(scope, i.options.getString("key", true), i.options.getString("value", true), actor);
        answer = outcome.message;
        if (outcome.ok) answer += this.postingNote(i, place);
      } else {
        const key = i.options.getString("key", true);
        answer = (await store.reset(scope, key.trim().toLowerCase() === "all" ? "all" : key, actor)).message;
      }
    } catch (err) {
      this.log.warn({ err, userId: i.user.id }, "settings command failed");
      return ephemeral(i, DISCORD_TEXT.unavailable);
    }
    await ephemeral(i, clip(answer));
  }

  /** Why this member may not change settings at `level` (undefined: they may). */
  private refusal(i: ChatInputCommandInteraction, level: ScopeLevel): string | undefined {
    const roles = new Set(this.deps.config.DISCORD_SETTINGS_ROLES ?? []);
    if ((rolesOf(i.member) ?? []).some((r) => roles.has(r))) return undefined;
    const perms = i.memberPermissions;
    if (level === "workspace")
      return perms?.has(PermissionFlagsBits.ManageGuild) ? undefined : SETTINGS_TEXT.needs("Manage Server", "the server's settings");
    const what = level === "thread" ? "this thread's settings" : "this channel's settings";
    return perms?.has(PermissionFlagsBits.ManageChannels) ? undefined : SETTINGS_TEXT.needs("Manage Channels", what);
  }

  /** A change made where the bot cannot post: say so (the setting is stored all the same). */
  private postingNote(i: ChatInputCommandInteraction, place: DiscordPlace): string {
    const perms = i.appPermissions;
    if (!perms) return "";
    const send = place.isThread ? PermissionFlagsBits.SendMessagesInThreads : PermissionFlagsBits.SendMessages;
    const missing = [
      [PermissionFlagsBits.ViewChannel, "View Channel"],
      [send, place.isThread ? "Send Messages in Threads" : "Send Messages"],
    ] as const;
    const names = missing.filter(([bit]) => !perms.has(bit)).map(([, name]) => `**${name}**`);
    return names.length > 0 ? SETTINGS_TEXT.cannotPost(names.join(" and ")) : "";
  }

  /** Suggestions for `key` (setting names with what they do) and `value` (the allowed values). */
  async autocomplete(i: AutocompleteInteraction): Promise<void> {
    const store = this.deps.settings;
    const focused = i.options.getFocused(true);
    const typed = String(focused.value ?? "").trim();
    const choices = store
      ? focused.name === "key"
        ? keyChoices(typed, i.options.getSubcommand() === "reset")
        : valueChoices(store, i.options.getString("key") ?? "", typed)
      : [];
    await i.respond(choices.slice(0, CHOICES_MAX)).catch((err) => this.log.debug({ err }, "autocomplete answer failed"));
  }
}

function keyChoices(typed: string, withAll: boolean): Array<{ name: string; value: string }> {
  const q = typed.toLowerCase();
  const out = SETTING_KEYS.map((k) => SETTING_NAMES[k])
    .filter((name) => q === "" || name.includes(q) || findSetting(q) === findSetting(name))
    .map((name) => ({ name, value: name }));
  if (withAll && (q === "" || "all".startsWith(q))) out.push({ name: "all (every setting set here)", value: "all" });
  return out;
}

function valueChoices(store: SettingsStore, keyName: string, typed: string): Array<{ name: string; value: string }> {
  const key = findSetting(keyName);
  if (!key) return [];
  const def = store.catalog[key];
  let options: string[] | undefined;
  if (key === "memoryScope") options = [...MEMORY_SCOPES];
  else if (key === "enabled" || key === "threadPerMention") options = ["true", "false"];
  else if (key === "engine") options = [...store.options.engines];
  if (options) return options.filter((o) => o.startsWith(typed.toLowerCase())).map((o) => ({ name: o, value: o }));
  if (typed.length === 0 || typed.length > CHOICE_CHARS) return [];
  return [{ name: clipTo(`${typed} — ${def.allowed}`, CHOICE_CHARS), value: typed }];
}

function clipTo(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function clip(s: string): string {
  return clipTo(s, DISCORD_MAX_LENGTH);
}
