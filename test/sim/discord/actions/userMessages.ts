/**
 * What a test makes a user do with messages: post (MESSAGE_CREATE, with mentions, attachments and
 * replies resolved as Discord does), edit (MESSAGE_UPDATE) and delete (MESSAGE_DELETE).
 */
import { type CdnFault, contentTypeFor, FileStore, pngSize } from "../state/FileStore.ts";
import type { StoredMessage, WireMessage } from "../state/MessageStore.ts";
import type { SimState } from "../state/SimState.ts";
import { userWireWithMember } from "../state/wire.ts";
import type { Json } from "../types.ts";
import { clone } from "../util.ts";

/** A file a user attaches; its bytes are served by the simulator's CDN at the attachment's `url`. */
export interface UserAttachment {
  filename: string;
  /** the bytes (a string is UTF-8 encoded); `size` follows from them */
  data?: string | Uint8Array;
  /** a huge file made while it is downloaded: `size` bytes of `fill` (default "A") repeated */
  generate?: { size: number; fill?: string | Uint8Array };
  /** reported size when there are no `data` (served as that many "A" bytes) */
  size?: number;
  /** default: Discord's guess from the extension (e.g. `text/plain; charset=utf-8` for .txt), else none */
  content_type?: string;
  description?: string;
  /** what downloading it gets: slow, hang, stall, a status (404 …) or a reset */
  fault?: CdnFault;
  /** a URL elsewhere instead of the simulator's CDN (not served) */
  url?: string;
}

export interface UserSaysOptions {
  channelId: string;
  /** defaults to the channel's guild */
  guildId?: string;
  author: { id: string; username: string; bot?: boolean; global_name?: string | null };
  content: string;
  /** true: the message mentions the bot (`<@BOT>` is prepended when missing); default: whether content contains it */
  mentionsBot?: boolean;
  attachments?: UserAttachment[];
  /**
   * make it a reply to a message in the same channel (a deleted one too: `referenced_message` is then
   * null). `ping`: ping the replied-to author (default true, as Discord clients do). `referencedMessage:
   * "omit"`: MESSAGE_CREATE leaves `referenced_message` out (Discord: "the backend did not attempt to
   * fetch the message"), so the bot has to GET it.
   */
  messageReference?: { messageId: string; ping?: boolean; referencedMessage?: "include" | "omit" };
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
  wire.attachments = (opts.attachments ?? []).map((a) => userAttachment(state, a, ch.id, id));
  if (reference) {
    wire.type = 19;
    wire.message_reference = { type: 0, message_id: reference.wire.id, channel_id: ch.id, ...(guildId ? { guild_id: guildId } : {}) };
  }
  const stored = messages.add(wire, { allowedMentions: undefined, repliedUserPing: opts.messageReference?.ping !== false });
  if (opts.messageReference?.referencedMessage === "omit") stored.omitReferenced = true;
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

/** Stores a user's attachment for the CDN and returns the attachment object. */
function userAttachment(state: SimState, a: UserAttachment, channelId: string, messageId: string): Json {
  const attachmentId = state.nextId();
  const data = a.data === undefined ? null : typeof a.data === "string" ? Buffer.from(a.data, "utf8") : Buffer.from(a.data);
  const fill = a.generate
    ? typeof a.generate.fill === "string"
      ? Buffer.from(a.generate.fill)
      : Buffer.from(a.generate.fill ?? "A")
    : Buffer.from("A");
  const size = data ? data.length : (a.generate?.size ?? a.size ?? 0);
  const contentType = a.content_type ?? contentTypeFor(a.filename);
  state.files.put({
    id: attachmentId,
    channelId,
    messageId,
    filename: a.filename,
    contentType: contentType ?? "application/octet-stream",
    size,
    data,
    fill: data ? null : fill,
    fault: a.fault ?? null,
    fromBot: false,
    description: a.description ?? null,
    time: Date.now(),
  });
  const url = a.url ?? FileStore.url(state.cdnBase, channelId, attachmentId, a.filename);
  const dims = pngSize(data);
  return {
    id: attachmentId,
    filename: a.filename,
    ...(a.description !== undefined ? { description: a.description } : {}),
    size,
    url,
    proxy_url: a.url ?? url.replace("/cdn/", "/media/"),
    ...(contentType ? { content_type: contentType } : {}),
    ...(dims ? { width: dims.width, height: dims.height } : {}),
  };
}
