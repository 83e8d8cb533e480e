/**
 * The settings of the place a Slack message was sent (workspace → channel → thread): whether the
 * bot answers there at all (`enabled`), and which conversation (memory) the message belongs to by
 * the place's memory scope. The draft the intake queues carries the place, so the worker answers
 * with that place's persona and limits, and the message's context (files, thread) as it loads.
 */
import type { RequestContext } from "../../src/context/RequestContext.ts";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { IntakeDraft } from "../../src/intake/Intake.ts";
import type { Logger } from "../../src/logger.ts";
import { SettingsStore } from "../../src/settings/SettingsStore.ts";
import { settingsOptionsFrom } from "../../src/settings/settingsCatalog.ts";
import { conversationKeyFor, type MemoryScope } from "../../src/settings/settingsScope.ts";
import type { ChatAuthor, ChatPlace } from "../../src/types.ts";

export interface SlackMessagePlace {
  teamId: string;
  channelId: string;
  userId: string;
  /** "" while an /ask's thread does not exist yet. */
  threadTs: string;
  /** The conversation's thread id when it is not `threadTs` (memory only; settings follow `threadTs`). */
  conversationTs?: string;
}

/** The settings as the adapter reads and changes them. */
export function slackSettingsStore(deps: Pick<AdapterDeps, "redis" | "keys" | "config">, log: Logger): SettingsStore {
  return new SettingsStore(deps.redis, deps.keys, settingsOptionsFrom(deps.config), log);
}

export type PlaceCheck = { enabled: true; memoryScope: MemoryScope } | { enabled: false; userMessage: string };

function chatPlace(p: SlackMessagePlace): ChatPlace {
  const place: ChatPlace = { platform: "slack", workspaceId: p.teamId, channelId: p.channelId };
  if (p.threadTs) place.threadId = p.threadTs;
  return place;
}

/** Whether the bot answers at the place, and its memory scope (the defaults when Redis fails: the intake says so next). */
export async function checkPlace(store: SettingsStore, log: Logger, p: SlackMessagePlace): Promise<PlaceCheck> {
  try {
    const s = await store.intake(chatPlace(p), p.userId);
    if (!s.enabled) return { enabled: false, userMessage: s.userMessage ?? "I'm switched off here." };
    return { enabled: true, memoryScope: s.settings.values.memoryScope };
  } catch (err) {
    log.warn({ err }, "could not read the place's settings; the defaults apply");
    return { enabled: true, memoryScope: store.options.defaults.memoryScope };
  }
}

/** The request's draft at its place (the thread known by now). */
export function slackDraft(
  p: SlackMessagePlace & { requestId: string },
  memoryScope: MemoryScope,
  /** The author's display name (may still be resolving). */
  name: Promise<string>,
  context: Promise<RequestContext | undefined> | undefined,
): IntakeDraft {
  const place = chatPlace(p);
  const draft: IntakeDraft = {
    requestId: p.requestId,
    // The memory scope decides: the thread's own memory (the default), the channel's, or the user's.
    conversationKey: conversationKeyFor(p.conversationTs ? { ...place, threadId: p.conversationTs } : place, memoryScope, p.userId),
    author: name.then((n): ChatAuthor => ({ id: p.userId, name: n })),
    authorId: p.userId,
    place,
  };
  if (context) draft.context = context;
  return draft;
}
