/**
 * `/help` on Discord (ephemeral): the commands, how conversations work here (who shares a memory,
 * how much is remembered, threads, replies and files), and the current channel's settings in
 * brief — what differs from the defaults.
 */
import type { ChatInputCommandInteraction } from "discord.js";
import { formatBytes } from "../../src/context/renderUserTurn.ts";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { Logger } from "../../src/logger.ts";
import { formatSettingsBrief } from "../../src/settings/formatSettings.ts";
import { defaultSettings, type EffectiveSettings } from "../../src/settings/resolveSettings.ts";
import { formatDuration, settingsOptionsFrom } from "../../src/settings/settingsCatalog.ts";
import { scopeOf } from "../../src/settings/settingsScope.ts";
import type { DiscordApi } from "./DiscordApi.ts";
import type { DiscordPlace } from "./discordConversation.ts";
import { ephemeral } from "./discordInteraction.ts";
import { chatPlaceOf } from "./discordPlaceSettings.ts";

type HelpConfig = Pick<AdapterDeps["config"], "MAX_ATTACHMENT_BYTES">;

/** The help text for `place`, with the settings in force there (`brief`: what differs from the defaults). */
export function helpText(place: DiscordPlace, settings: EffectiveSettings, brief: string, config: HelpConfig): string {
  const v = settings.values;
  const inDm = place.guildId === null;
  const memory =
    v.memoryScope === "user"
      ? "each person has their own conversation with me here"
      : v.memoryScope === "channel" || !place.isThread
        ? inDm
          ? "this DM is one conversation"
          : "everyone here shares one conversation"
        : "this thread is its own conversation";
  const lines = [
    "**How to talk to me**",
    inDm
      ? "• Just write — every message here is for me."
      : "• Mention me in a message, or reply to one of my messages with the ping on (**@ON**). Replies with the ping off don't reach me.",
    "• `/ask prompt:` asks without a mention · `/imagine prompt:` makes a picture (with `negative`, `size`, `steps`, `seed`) · `/reset` forgets this conversation · `/settings` (admins) changes my persona and limits here · `/help` shows this.",
    `• Conversations: ${memory}; I keep the last ${v.historyTurns} turns for ${formatDuration(v.memoryTtlSeconds)} after the last message.${
      v.threadPerMention && !inDm && !place.isThread ? " A mention here opens a thread for the answer." : ""
    }`,
    `• When your message replies to another one, I read that message too. Text files you attach (text, Markdown, code, JSON, CSV, logs) are read — up to ${formatBytes(config.MAX_ATTACHMENT_BYTES)} each; images and other files are not.`,
    "• Under my answers: **Stop** ends one early, **Regenerate** writes the latest again (only the asker or a moderator).",
    `**Settings here**: ${v.enabled ? "" : "I'm switched off here. "}${brief}`,
  ];
  return lines.join("\n");
}

export async function runHelp(
  i: ChatInputCommandInteraction,
  deps: Pick<AdapterDeps, "settings" | "config">,
  api: DiscordApi,
  log: Logger,
): Promise<void> {
  const place = await api.placeOf(i.channel, i.channelId, i.guildId);
  const store = deps.settings;
  let settings: EffectiveSettings | undefined;
  let brief = "the defaults (settings are not available on this deployment).";
  if (store) {
    try {
      const scope = scopeOf(chatPlaceOf(place), place.isThread ? "thread" : "channel");
      const [shown, effective] = await Promise.all([store.show(scope), store.resolve(chatPlaceOf(place))]);
      settings = effective;
      brief = formatSettingsBrief(shown);
    } catch (err) {
      log.warn({ err }, "could not read the settings for /help");
      brief = "could not be read right now.";
    }
  }
  settings ??= store?.defaults() ?? defaultSettings(settingsOptionsFrom(deps.config).defaults);
  await ephemeral(i, helpText(place, settings, brief, deps.config));
}
