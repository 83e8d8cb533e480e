/** What "a conversation" is on Slack, as a key: a thread. Keys carry the team id — channel ids are per workspace. */
import type { ConversationKey } from "../../src/types.ts";

/** `slack:<teamId>:<channelId>:<threadTs>`: every Slack conversation lives in a thread. */
export function slackConversationKey(teamId: string, channelId: string, threadTs: string): ConversationKey {
  return `slack:${teamId}:${channelId}:${threadTs}`;
}

/**
 * The thread id of a DM's own conversation: every top-level message of a DM (and replies in the
 * threads the bot answered them in) is one conversation, `slack:<teamId>:<D…>:dm`. Assistant
 * threads (the split view) and other threads of a DM stay conversations of their own.
 */
export const DM_CONVERSATION = "dm";

/** What `/reset` and "@bot reset" say (the same words as on Discord: "🧹 Done — I've forgotten …"). */
export const RESET_TEXT = {
  done: (what: string): string => `🧹 Done — I've forgotten ${what}.`,
  nothing:
    "I have no recent conversation of yours in this channel to forget (each `/ask` starts a fresh one anyway). " +
    "To clear an older thread's conversation, mention me in that thread with `reset`.",
} as const;
