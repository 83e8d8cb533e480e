/**
 * `/reset` on Discord: forget the conversation the asker is in here (by the place's memory scope:
 * the channel's, the thread's, the DM's, or the asker's own). The interaction is claimed by the
 * adapter first: a `/reset` replayed after a gateway resume does not wipe what was said since.
 */
import type { ChatInputCommandInteraction } from "discord.js";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import { DiscordKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { DiscordAccessDecision } from "./checkDiscordAccess.ts";
import type { DiscordApi } from "./DiscordApi.ts";
import type { DiscordPlace } from "./discordConversation.ts";
import { ephemeral, rolesOf } from "./discordInteraction.ts";
import { DISCORD_TEXT } from "./discordMessages.ts";
import { discordConversationAt, discordIntakeSettings } from "./discordPlaceSettings.ts";

export async function resetConversation(
  i: ChatInputCommandInteraction,
  deps: AdapterDeps,
  log: Logger,
  api: DiscordApi,
  accessAt: (place: DiscordPlace, userId: string, roleIds: readonly string[] | null) => DiscordAccessDecision,
): Promise<void> {
  const place = await api.placeOf(i.channel, i.channelId, i.guildId);
  const access = accessAt(place, i.user.id, rolesOf(i.member));
  if (!access.ok) {
    await ephemeral(i, access.message);
    return;
  }
  // Claimed by the adapter first: a /reset replayed after a gateway resume does not wipe what was said since.
  const settings = await discordIntakeSettings(deps, log, place, i.user.id);
  const conv = discordConversationAt(place, settings.memoryScope, i.user.id);
  try {
    await deps.memory.reset(conv);
    await deps.redis.del(new DiscordKeys(deps.keys).latest(conv));
  } catch (err) {
    log.warn({ err, conversation: conv }, "reset failed");
    await ephemeral(i, DISCORD_TEXT.unavailable);
    return;
  }
  log.info({ conversation: conv, userId: i.user.id }, "conversation reset");
  const what =
    place.guildId === null
      ? "our conversation"
      : settings.memoryScope === "user"
        ? "our conversation here"
        : place.isThread && settings.memoryScope === "thread"
          ? "this thread's conversation"
          : "this channel's conversation";
  await ephemeral(i, DISCORD_TEXT.resetDone(what));
}
