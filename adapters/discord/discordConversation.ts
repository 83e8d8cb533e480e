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

/** A placeholder once its answer is being written (until the first text arrives). */
export const THINKING_TEXT = "⏳ Thinking…";

/** A waiting placeholder's place in line: `ahead` messages of its conversation before it (0: next, the model is busy). */
export function waitingText(ahead: number): string {
  return ahead > 0 ? `⏳ Waiting — ${ahead} ahead` : "⏳ Waiting — next in line";
}

/**
 * The placeholder as first posted: "Thinking…" when nothing of its conversation waits before it,
 * else its place in line ("Waiting — 2 ahead") until its answer starts.
 */
export function placeholderText(ahead: number, notes: readonly string[] = []): string {
  return [ahead > 0 ? waitingText(ahead) : THINKING_TEXT, ...notes.map((n) => `-# ${n}`)].join("\n");
}
