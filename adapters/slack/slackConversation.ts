/** What "a conversation" is on Slack, as a key: a thread. Keys carry the team id — channel ids are per workspace. */
import type { ConversationKey } from "../../src/types.ts";

/** `slack:<teamId>:<channelId>:<threadTs>`: every Slack conversation lives in a thread. */
export function slackConversationKey(teamId: string, channelId: string, threadTs: string): ConversationKey {
  return `slack:${teamId}:${channelId}:${threadTs}`;
}
