/**
 * A Discord place as the per-place settings see it (src/settings): the server (`dm` for direct
 * messages), the channel (a thread's parent inside a thread) and the thread; and what the intake
 * needs from those settings before taking a message — is the bot on here, which conversation
 * (memory) this is by the place's memory scope, does a mention open a thread. Without a settings
 * store (tests, an old wiring) the environment's values apply, as before.
 */
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { Logger } from "../../src/logger.ts";
import { conversationKeyFor, type MemoryScope } from "../../src/settings/settingsScope.ts";
import type { ChatPlace, ConversationKey } from "../../src/types.ts";
import type { DiscordPlace } from "./discordConversation.ts";

/** What the intake reads from the settings at a place, for one person. */
export interface DiscordIntakeSettings {
  enabled: boolean;
  /** Why the bot stays quiet here (when not enabled). */
  userMessage?: string;
  /** Who shares a memory here (decides the conversation key). */
  memoryScope: MemoryScope;
  threadPerMention: boolean;
}

/** The settings' view of a Discord place. */
export function chatPlaceOf(place: DiscordPlace): ChatPlace {
  const workspaceId = place.guildId ?? "dm";
  if (place.isThread) return { platform: "discord", workspaceId, channelId: place.parentId ?? "unknown", threadId: place.channelId };
  return { platform: "discord", workspaceId, channelId: place.channelId };
}

/** The conversation (memory) of `userId`'s message at `place`: `discord:<guild|dm>:<channel>[:<thread>]` by default (memory scope `thread`). */
export function discordConversationAt(place: DiscordPlace, memoryScope: MemoryScope, userId: string): ConversationKey {
  return conversationKeyFor(chatPlaceOf(place), memoryScope, userId);
}

/** The settings at `place` for `userId`; the environment's values when there is no store or Redis fails. */
export async function discordIntakeSettings(
  deps: Pick<AdapterDeps, "settings" | "config">,
  log: Logger,
  place: DiscordPlace,
  userId: string,
): Promise<DiscordIntakeSettings> {
  const fallback: DiscordIntakeSettings = {
    enabled: true,
    memoryScope: deps.config.MEMORY_SCOPE,
    threadPerMention: deps.config.DISCORD_THREAD_PER_MENTION,
  };
  if (!deps.settings) return fallback;
  try {
    const s = await deps.settings.intake(chatPlaceOf(place), userId);
    const out: DiscordIntakeSettings = {
      enabled: s.enabled,
      memoryScope: s.settings.values.memoryScope,
      threadPerMention: s.threadPerMention,
    };
    if (s.userMessage) out.userMessage = s.userMessage;
    return out;
  } catch (err) {
    log.warn({ err, channelId: place.channelId }, "could not read the settings here; the defaults apply");
    return fallback;
  }
}
