/**
 * Every message the simulator holds: its wire object, the record tests read (current state as a user
 * sees it) and every version (create, then each edit). Applies Discord's mention rules to what the
 * bot sends, and dispatches MESSAGE_DELETE; creates and edits are dispatched by their callers.
 */
import type { Json, MessageRecord, MessageVersion, SimUser } from "../types.ts";
import { clone, isObject } from "../util.ts";
import type { ChannelState, World } from "./World.ts";
import { memberWire, userWire, userWireWithMember } from "./wire.ts";

/** A message on the wire (Discord's message object). */
export interface WireMessage {
  id: string;
  channel_id: string;
  content: string;
  author: Json;
  [key: string]: unknown;
}

export const MessageFlag = { SuppressEmbeds: 1 << 2, HasThread: 1 << 5, Ephemeral: 1 << 6, Loading: 1 << 7 } as const;

export interface StoredMessage {
  wire: WireMessage;
  record: MessageRecord;
  versions: MessageVersion[];
  /** replied_user ping of the create (kept for edits without allowed_mentions) */
  repliedUserPing: boolean;
  /** MESSAGE_CREATE/UPDATE leave `referenced_message` out (the backend did not fetch it) */
  omitReferenced?: boolean;
}

export interface StoreOptions {
  allowedMentions: unknown;
  repliedUserPing: boolean;
  ephemeralFor?: string;
  interactionId?: string;
}

export class MessageStore {
  private readonly byId = new Map<string, StoredMessage>();
  /** ids of messages created, edited or deleted, in order (the REST server reads what a request wrote) */
  readonly writeLog: string[] = [];

  constructor(
    private readonly world: World,
    private readonly dispatch: (t: string, d: unknown) => void,
  ) {}

  get(id: string): StoredMessage | undefined {
    return this.byId.get(id);
  }

  require(id: string): StoredMessage {
    const m = this.byId.get(id);
    if (!m) throw new Error(`unknown message ${id}`);
    return m;
  }

  /** A fresh wire message (type 0, no mentions, no attachments) by `author` in `ch`. */
  newWire(id: string, ch: ChannelState, author: SimUser, content: string, guildId: string | null): WireMessage {
    const wire: WireMessage = {
      id,
      channel_id: ch.id,
      ...(guildId ? { guild_id: guildId } : {}),
      author: userWire(this.world, author.id),
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      components: [],
      pinned: false,
      type: 0,
      flags: 0,
    };
    if (guildId) {
      const g = this.world.guilds.get(guildId);
      if (g?.members.has(author.id)) wire.member = memberWire(this.world, g, author.id, false);
    }
    if (ch.type === 11 || ch.type === 12 || ch.type === 10) wire.position = ch.totalMessageSent;
    return wire;
  }

  /** Stores a new message in its channel and records its first version. */
  add(wire: WireMessage, opts: StoreOptions): StoredMessage {
    const ch = this.world.requireChannel(wire.channel_id);
    const flags = Number(wire.flags ?? 0);
    const now = Date.now();
    const record: MessageRecord = {
      id: wire.id,
      channelId: ch.id,
      guildId: (wire.guild_id as string | undefined) ?? null,
      authorId: String(wire.author.id),
      authorIsBot: wire.author.bot === true,
      content: wire.content,
      components: clone((wire.components as unknown[]) ?? []),
      embeds: clone((wire.embeds as unknown[]) ?? []),
      attachments: clone((wire.attachments as unknown[]) ?? []),
      flags,
      type: Number(wire.type ?? 0),
      messageReference: (wire.message_reference as MessageRecord["messageReference"]) ?? null,
      edits: 0,
      allowedMentions: clone(opts.allowedMentions),
      mentionedUserIds: ((wire.mentions as Json[]) ?? []).map((u) => String(u.id)),
      mentionEveryone: wire.mention_everyone === true,
      mentionRoleIds: clone((wire.mention_roles as string[]) ?? []),
      ephemeral: (flags & MessageFlag.Ephemeral) !== 0,
      visibleTo: opts.ephemeralFor ?? null,
      interactionId: opts.interactionId ?? null,
      deleted: false,
      threadId: null,
      createdAt: now,
      editedAt: null,
    };
    const stored: StoredMessage = { wire, record, versions: [], repliedUserPing: opts.repliedUserPing };
    stored.versions.push(this.versionOf(stored, "create", opts.allowedMentions, now));
    this.byId.set(wire.id, stored);
    this.writeLog.push(wire.id);
    ch.messageIds.push(wire.id);
    if ((flags & MessageFlag.Ephemeral) === 0) {
      ch.lastMessageId = wire.id;
      ch.totalMessageSent++;
    }
    return stored;
  }

  private versionOf(m: StoredMessage, kind: "create" | "edit", allowedMentions: unknown, at: number): MessageVersion {
    return {
      kind,
      content: m.wire.content,
      components: clone((m.wire.components as unknown[]) ?? []),
      embeds: clone((m.wire.embeds as unknown[]) ?? []),
      flags: Number(m.wire.flags ?? 0),
      allowedMentions: clone(allowedMentions),
      mentionedUserIds: ((m.wire.mentions as Json[]) ?? []).map((u) => String(u.id)),
      mentionEveryone: m.wire.mention_everyone === true,
      mentionRoleIds: clone((m.wire.mention_roles as string[]) ?? []),
      at,
      timestamp: new Date(at).toISOString(),
    };
  }

  /** Applies Discord's mention rules for a message the bot sends: what `allowed_mentions` lets through. */
  resolveBotMentions(wire: WireMessage, allowed: unknown, repliedUserPing: boolean): void {
    const content = wire.content;
    const guildId = (wire.guild_id as string | undefined) ?? null;
    const parsedUsers = [...new Set([...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]!))].filter((id) => this.world.users.has(id));
    const guild = guildId ? this.world.guilds.get(guildId) : undefined;
    const parsedRoles = [...new Set([...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!))].filter((id) =>
      guild?.roles.some((r) => r.id === id),
    );
    const everyone = /@(everyone|here)/.test(content);
    let users: string[];
    let roles: string[];
    let mentionEveryone: boolean;
    if (!isObject(allowed)) {
      users = parsedUsers;
      roles = parsedRoles;
      mentionEveryone = everyone;
    } else {
      const parse = Array.isArray(allowed.parse) ? (allowed.parse as string[]) : [];
      const allowUsers = Array.isArray(allowed.users) ? (allowed.users as string[]) : [];
      const allowRoles = Array.isArray(allowed.roles) ? (allowed.roles as string[]) : [];
      users = parse.includes("users") ? parsedUsers : parsedUsers.filter((u) => allowUsers.includes(u));
      roles = parse.includes("roles") ? parsedRoles : parsedRoles.filter((r) => allowRoles.includes(r));
      mentionEveryone = parse.includes("everyone") && everyone;
    }
    const ref = wire.message_reference as Json | undefined;
    if (ref && repliedUserPing && typeof ref.message_id === "string") {
      const target = this.byId.get(ref.message_id);
      if (target && target.record.authorId !== this.world.botUser.id && !users.includes(target.record.authorId))
        users.push(target.record.authorId);
    }
    wire.mentions = users.map((u) => userWireWithMember(this.world, u, guildId));
    wire.mention_roles = roles;
    wire.mention_everyone = mentionEveryone;
  }

  /** Applies an edit (by the bot, or a user's own) to the wire object and the record, and records the version. */
  applyEdit(m: StoredMessage, body: Json, byBot: boolean, addedAttachments: Json[] = []): void {
    const wire = m.wire;
    if (typeof body.content === "string" || body.content === null) wire.content = (body.content as string | null) ?? "";
    if (Array.isArray(body.embeds) || body.embeds === null) wire.embeds = clone((body.embeds as unknown[] | null) ?? []);
    if (Array.isArray(body.components) || body.components === null) wire.components = clone((body.components as unknown[] | null) ?? []);
    if (typeof body.flags === "number") {
      // only SUPPRESS_EMBEDS can be toggled by an edit; loading goes away once the response is edited
      const keep = Number(wire.flags ?? 0) & ~(MessageFlag.SuppressEmbeds | MessageFlag.Loading);
      wire.flags = keep | (body.flags & MessageFlag.SuppressEmbeds);
    } else {
      wire.flags = Number(wire.flags ?? 0) & ~MessageFlag.Loading;
    }
    if (Array.isArray(body.attachments)) {
      // keep the attachments listed by id (their description may change); drop the rest
      const listed = (body.attachments as unknown[]).filter(isObject);
      wire.attachments = ((wire.attachments as Json[]) ?? [])
        .filter((a) => listed.some((l) => String(l.id) === String(a.id)))
        .map((a) => {
          const l = listed.find((x) => String(x.id) === String(a.id))!;
          return typeof l.description === "string" ? { ...a, description: l.description } : a;
        });
    }
    if (addedAttachments.length > 0) wire.attachments = [...((wire.attachments as Json[]) ?? []), ...addedAttachments];
    const now = Date.now();
    const wasLoading = (m.record.flags & MessageFlag.Loading) !== 0;
    if (!wasLoading) wire.edited_timestamp = new Date(now).toISOString();
    if (byBot) {
      const allowed = "allowed_mentions" in body ? body.allowed_mentions : undefined;
      const repliedUserPing = "allowed_mentions" in body ? isObject(allowed) && allowed.replied_user === true : m.repliedUserPing;
      this.resolveBotMentions(wire, allowed, repliedUserPing);
      m.record.allowedMentions = clone(allowed);
    } else {
      const mentioned = [...wire.content.matchAll(/<@!?(\d+)>/g)].map((x) => x[1]!).filter((id) => this.world.users.has(id));
      wire.mentions = [...new Set(mentioned)].map((u) => userWireWithMember(this.world, u, (wire.guild_id as string | undefined) ?? null));
    }
    const r = m.record;
    r.content = wire.content;
    r.components = clone(wire.components as unknown[]);
    r.embeds = clone(wire.embeds as unknown[]);
    r.attachments = clone(wire.attachments as unknown[]);
    r.flags = Number(wire.flags);
    r.edits++;
    r.editedAt = now;
    r.mentionedUserIds = ((wire.mentions as Json[]) ?? []).map((u) => String(u.id));
    r.mentionEveryone = wire.mention_everyone === true;
    r.mentionRoleIds = clone((wire.mention_roles as string[]) ?? []);
    m.versions.push(this.versionOf(m, "edit", byBot ? body.allowed_mentions : undefined, now));
    this.writeLog.push(m.wire.id);
  }

  /** Marks the message deleted and dispatches MESSAGE_DELETE (not for ephemeral ones). */
  remove(m: StoredMessage): void {
    m.record.deleted = true;
    this.writeLog.push(m.wire.id);
    if (!m.record.ephemeral) {
      this.dispatch("MESSAGE_DELETE", {
        id: m.wire.id,
        channel_id: m.wire.channel_id,
        ...(m.wire.guild_id ? { guild_id: m.wire.guild_id } : {}),
      });
    }
  }

  /** Marks several messages of one channel deleted and dispatches one MESSAGE_DELETE_BULK (ids as given). */
  removeBulk(channelId: string, ids: string[]): void {
    const ch = this.world.requireChannel(channelId);
    for (const id of ids) {
      const m = this.byId.get(id);
      if (!m || m.record.channelId !== channelId || m.record.deleted) continue;
      m.record.deleted = true;
      this.writeLog.push(id);
    }
    this.dispatch("MESSAGE_DELETE_BULK", { ids: [...ids], channel_id: channelId, ...(ch.guildId ? { guild_id: ch.guildId } : {}) });
  }

  /** The wire object with `referenced_message` filled in, as Discord sends replies. */
  fullWire(id: string): WireMessage {
    const m = this.byId.get(id)!;
    const wire = clone(m.wire);
    const ref = wire.message_reference as Json | undefined;
    if (ref && typeof ref.message_id === "string") {
      const target = this.byId.get(ref.message_id);
      wire.referenced_message = target && !target.record.deleted ? clone(target.wire) : null;
    }
    return wire;
  }

  /** A message as MESSAGE_CREATE / MESSAGE_UPDATE carry it: the REST shape plus `channel_type`. */
  gatewayMessage(id: string): WireMessage {
    const wire = this.fullWire(id);
    if (this.byId.get(id)?.omitReferenced) delete wire.referenced_message;
    const ch = this.world.channels.get(wire.channel_id);
    if (ch) wire.channel_type = ch.type;
    return wire;
  }

  /** Current state of each message in the channel, oldest first (deleted ones left out unless asked). */
  records(channelId: string, opts: { includeDeleted?: boolean; includeEphemeral?: boolean } = {}): MessageRecord[] {
    const ch = this.world.channels.get(channelId);
    if (!ch) return [];
    return ch.messageIds
      .map((id) => this.byId.get(id)!.record)
      .filter((r) => (opts.includeDeleted || !r.deleted) && (opts.includeEphemeral !== false || !r.ephemeral))
      .map((r) => clone(r));
  }

  record(messageId: string): MessageRecord | undefined {
    const m = this.byId.get(messageId);
    return m ? clone(m.record) : undefined;
  }

  history(messageId: string): MessageVersion[] {
    return clone(this.byId.get(messageId)?.versions ?? []);
  }
}
