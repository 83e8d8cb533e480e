/**
 * What one gateway session receives of a dispatch: filtering by the intents it identified with, and
 * the Message Content rule (without that intent, guild messages that neither mention the bot nor are
 * its own arrive with empty content, embeds, attachments and components).
 */
import type { Json } from "../types.ts";
import { clone, isObject } from "../util.ts";
import type { GatewaySession } from "./GatewayServer.ts";

/** Gateway intent bits used by the simulator's filtering. */
export const Intent = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

/** The session's view of a dispatch; null → not delivered to it. */
export function viewFor(botUserId: string, session: GatewaySession, t: string, d: unknown): unknown | null {
  const intents = session.intents;
  const data = isObject(d) ? d : {};
  const inGuild = typeof data.guild_id === "string";
  switch (t) {
    case "MESSAGE_CREATE":
    case "MESSAGE_UPDATE":
    case "MESSAGE_DELETE":
    case "MESSAGE_DELETE_BULK": {
      const need = inGuild ? Intent.GuildMessages : Intent.DirectMessages;
      if ((intents & need) === 0) return null;
      if (t === "MESSAGE_CREATE" || t === "MESSAGE_UPDATE") return contentView(botUserId, session, data);
      return d;
    }
    case "MESSAGE_REACTION_ADD":
    case "MESSAGE_REACTION_REMOVE":
      return (intents & (inGuild ? Intent.GuildMessageReactions : Intent.DirectMessageReactions)) !== 0 ? d : null;
    case "TYPING_START":
      return (intents & (inGuild ? Intent.GuildMessageTyping : Intent.DirectMessageTyping)) !== 0 ? d : null;
    case "CHANNEL_CREATE":
    case "CHANNEL_UPDATE":
    case "CHANNEL_DELETE":
    case "THREAD_CREATE":
    case "THREAD_UPDATE":
    case "THREAD_DELETE":
    case "GUILD_UPDATE":
    case "GUILD_DELETE":
    case "GUILD_ROLE_CREATE":
    case "GUILD_ROLE_UPDATE":
    case "GUILD_ROLE_DELETE":
      return (intents & Intent.Guilds) !== 0 ? d : null;
    case "GUILD_MEMBER_ADD":
    case "GUILD_MEMBER_UPDATE":
    case "GUILD_MEMBER_REMOVE":
      return (intents & Intent.GuildMembers) !== 0 ? d : null;
    default:
      return d;
  }
}

/** Without the Message Content intent, guild messages that neither mention the bot nor are its own come without content. */
function contentView(botUserId: string, session: GatewaySession, d: Json): Json {
  if ((session.intents & Intent.MessageContent) !== 0) return d;
  return withoutMessageContent(botUserId, d);
}

/**
 * A copy of a message (and its `referenced_message`) as an app without Message Content access sees
 * it: guild messages that neither mention the bot nor are its own have empty content, embeds,
 * attachments and components (and no poll). DMs keep everything.
 */
export function withoutMessageContent(botUserId: string, d: Json): Json {
  const out = clone(d);
  const blank = (m: Json) => {
    if (typeof m.guild_id !== "string" && typeof d.guild_id !== "string") return; // DMs keep content
    const author = isObject(m.author) ? m.author : {};
    if (author.id === botUserId) return;
    const mentions = Array.isArray(m.mentions) ? (m.mentions as Json[]) : [];
    if (mentions.some((u) => u.id === botUserId)) return;
    if ("content" in m) m.content = "";
    if ("embeds" in m) m.embeds = [];
    if ("attachments" in m) m.attachments = [];
    if ("components" in m) m.components = [];
    if ("poll" in m) delete m.poll;
  };
  blank(out);
  if (isObject(out.referenced_message)) blank(out.referenced_message);
  return out;
}
