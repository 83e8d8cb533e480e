/**
 * What "a conversation" is on Discord, as a key: a channel's, a thread's, or a DM's.
 * `discord:<guildId>:<channelId>` · `discord:<guildId>:<parentChannelId>:<threadId>` · `discord:dm:<channelId>`.
 * Keys carry the guild id, so two servers' #general channels never share a memory.
 */
import type { ConversationKey } from "../../src/types.ts";

/** Where a message or command happened. */
export interface DiscordPlace {
  /** null in DMs */
  guildId: string | null;
  /** the channel the message is in (the thread itself, inside a thread) */
  channelId: string;
  /** set inside a thread: its parent channel */
  parentId: string | null;
  isThread: boolean;
}

export function discordConversationKey(place: DiscordPlace): ConversationKey {
  if (place.guildId === null) return `discord:dm:${place.channelId}`;
  if (place.isThread) return `discord:${place.guildId}:${place.parentId ?? "unknown"}:${place.channelId}`;
  return `discord:${place.guildId}:${place.channelId}`;
}

/** A thread's name from the question: its first line, at most 100 characters. */
export function threadNameFor(question: string): string {
  const line =
    question
      .split("\n")
      .find((l) => l.trim().length > 0)
      ?.replace(/\s+/g, " ")
      .trim() ?? "";
  if (line.length === 0) return "Question";
  if (line.length <= 100) return line;
  let out = "";
  for (const ch of line) {
    if (out.length + ch.length > 99) break;
    out += ch;
  }
  return `${out}…`;
}

/** The placeholder shown until the first tokens arrive. */
export function placeholderText(ahead: number, notes: readonly string[] = []): string {
  const wait = ahead > 0 ? ` (${ahead} ahead of you)` : "";
  return [`⏳ Thinking…${wait}`, ...notes.map((n) => `-# ${n}`)].join("\n");
}
