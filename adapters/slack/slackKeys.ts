/** Redis keys of the Slack adapter and sink, under the bot's prefix (REDIS_PREFIX). */
import type { Keys } from "../../src/keys.ts";

export class SlackKeys {
  private readonly base: string;
  constructor(keys: Keys) {
    this.base = `${keys.prefix}:slack`;
  }
  /** Claimed by the first delivery of a message or command (Slack sends mentions twice and retries). */
  claim(requestId: string): string {
    return `${this.base}:claim:${requestId}`;
  }
  /** Present while a thread is one the bot started (its plain follow-ups continue the conversation). */
  botThread(teamId: string, channelId: string, threadTs: string): string {
    return `${this.base}:thread:${teamId}:${channelId}:${threadTs}`;
  }
  /** The request a bot message belongs to (Stop button → request). */
  messageRequest(teamId: string, channelId: string, ts: string): string {
    return `${this.base}:msg:${teamId}:${channelId}:${ts}`;
  }
  /** The thread of a user's latest conversation with the bot in a channel (what `/reset` clears). */
  lastThread(teamId: string, channelId: string, userId: string): string {
    return `${this.base}:last:${teamId}:${channelId}:${userId}`;
  }
  /** The shared edit budget of a workspace: its next free slot (ms since the epoch); `:log` and `:blocked` beside it. */
  editBudget(teamId: string): string {
    return `${this.base}:budget:${teamId}`;
  }
}

/** `slack:<teamId>:<channelId>:<threadTs>`: every Slack conversation lives in a thread. */
export function slackConversationKey(teamId: string, channelId: string, threadTs: string): string {
  return `slack:${teamId}:${channelId}:${threadTs}`;
}
