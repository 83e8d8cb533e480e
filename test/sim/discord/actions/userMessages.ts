/**
 * What a test makes a user do with messages: post (MESSAGE_CREATE, with mentions, attachments and
 * replies resolved as Discord does), edit (MESSAGE_UPDATE) and delete (MESSAGE_DELETE).
 */
import type { StoredMessage, WireMessage } from "../state/MessageStore.ts";
import type { SimState } from "../state/SimState.ts";
import { userWireWithMember } from "../state/wire.ts";
import { clone } from "../util.ts";

export interface UserSaysOptions {
  channelId: string;
  /** defaults to the channel's guild */
  guildId?: string;
  author: { id: string; username: string; bot?: boolean; global_name?: string | null };
  content: string;
  /** true: the message mentions the bot (`<@BOT>` is prepended when missing); default: whether content contains it */
  mentionsBot?: boolean;
  attachments?: Array<{ filename: string; size?: number; content_type?: string; url?: string }>;
  /** make it a reply to an existing message in the same channel */
  messageReference?: { messageId: string /** ping the replied-to author (default true, as Discord clients do) */; ping?: boolean };
}

/** A user posts a message: stored in the channel and dispatched as MESSAGE_CREATE. */
export function userSays(state: SimState, opts: UserSaysOptions): WireMessage {
  const { world, messages } = state;
  const ch = world.requireChannel(opts.channelId);
  const guildId = opts.guildId ?? ch.guildId;
  const author = world.addUser({
    id: opts.author.id,
    username: opts.author.username,
    bot: opts.author.bot ?? false,
    global_name: opts.author.global_name ?? null,
  });
  world.ensureMember(guildId, author);
  const botMention = new RegExp(`<@!?${world.botUser.id}>`);
  let content = opts.content;
  const mentionsBot = opts.mentionsBot ?? botMention.test(content);
  if (mentionsBot && !botMention.test(content)) content = `<@${world.botUser.id}> ${content}`;

  const mentioned = new Set<string>();
  for (const m of content.matchAll(/<@!?(\d+)>/g)) if (world.users.has(m[1]!)) mentioned.add(m[1]!);
  if (!mentionsBot) mentioned.delete(world.botUser.id);
  let reference: StoredMessage | undefined;
  if (opts.messageReference) {
    reference = messages.get(opts.messageReference.messageId);
    if (!reference || reference.record.channelId !== ch.id)
      throw new Error(`unknown message ${opts.messageReference.messageId} in channel ${ch.id}`);
    if (opts.messageReference.ping !== false && reference.record.authorId !== author.id) mentioned.add(reference.record.authorId);
  }
  const roles = guildId
    ? [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!).filter((r) => world.guilds.get(guildId)?.roles.some((x) => x.id === r))
    : [];
  const id = state.nextId();
  const wire = messages.newWire(id, ch, author, content, guildId);
  wire.mentions = [...mentioned].map((u) => userWireWithMember(world, u, guildId));
  wire.mention_roles = roles;
  wire.mention_everyone = /@(everyone|here)/.test(content);
  wire.attachments = (opts.attachments ?? []).map((a) => ({
    id: state.nextId(),
    filename: a.filename,
    size: a.size ?? 0,
    url: a.url ?? `${state.cdnBase}/attachments/${ch.id}/${id}/${a.filename}`,
    proxy_url: a.url ?? `${state.cdnBase}/attachments/${ch.id}/${id}/${a.filename}`,
    content_type: a.content_type ?? "application/octet-stream",
  }));
  if (reference) {
    wire.type = 19;
    wire.message_reference = { type: 0, message_id: reference.wire.id, channel_id: ch.id, ...(guildId ? { guild_id: guildId } : {}) };
  }
  messages.add(wire, { allowedMentions: undefined, repliedUserPing: opts.messageReference?.ping !== false });
  state.dispatch("MESSAGE_CREATE", messages.gatewayMessage(id));
  return clone(messages.fullWire(id)) as WireMessage;
}

/** A user edits their message (MESSAGE_UPDATE). */
export function userEdits(state: SimState, messageId: string, content: string): void {
  const m = state.messages.require(messageId);
  state.messages.applyEdit(m, { content }, false);
  state.dispatch("MESSAGE_UPDATE", state.messages.gatewayMessage(messageId));
}

/** A user (or moderator) deletes a message (MESSAGE_DELETE). */
export function userDeletes(state: SimState, messageId: string): void {
  state.messages.remove(state.messages.require(messageId));
}
