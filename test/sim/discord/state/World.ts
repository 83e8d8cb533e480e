/**
 * The Discord simulator's world: users, guilds (roles, members) and channels (text, threads, DMs),
 * with the permission rules over them. Messages, interactions and commands have their own stores;
 * nothing here dispatches to the gateway (the facade and the routes do).
 */
import { type ApiErrorResponse, Errors } from "../discordErrors.ts";
import type { SimChannelInput, SimGuildInput, SimGuildMemberInput, SimPermissionOverwrite, SimRole, SimUser } from "../types.ts";
import { ALL_PERMISSIONS, computePermissions, DEFAULT_EVERYONE_PERMISSIONS, Permission } from "./permissions.ts";
import { createSnowflakeGenerator } from "./snowflake.ts";

export interface ChannelState {
  id: string;
  type: number;
  name: string | null;
  guildId: string | null;
  parentId: string | null;
  topic: string | null;
  position: number;
  overwrites: SimPermissionOverwrite[];
  recipients: SimUser[];
  ownerId: string | null;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: number;
  createdAt: string;
  messageIds: string[];
  lastMessageId: string | null;
  totalMessageSent: number;
}

export interface MemberState {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: string;
}

export interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  roles: SimRole[];
  members: Map<string, MemberState>;
  channelIds: string[];
}

export type BotUser = Required<Pick<SimUser, "id" | "username">> & { bot: true };

/** Channel types 10, 11 and 12 are threads (announcement, public, private). */
export function isThreadType(type: number): boolean {
  return type === 10 || type === 11 || type === 12;
}

export class World {
  /** one snowflake generator for every id the simulator hands out, so ids increase across kinds */
  readonly nextId = createSnowflakeGenerator(1);
  readonly users = new Map<string, SimUser>();
  readonly guilds = new Map<string, GuildState>();
  readonly channels = new Map<string, ChannelState>();

  constructor(
    readonly botUser: BotUser,
    readonly applicationId: string,
  ) {
    this.users.set(botUser.id, { ...botUser });
  }

  addUser(user: SimUser): SimUser {
    const u = { ...this.users.get(user.id), ...user };
    this.users.set(user.id, u);
    return u;
  }

  /** Stores a guild with its @everyone role, the bot as a member, its members, channels and threads. */
  addGuild(input: SimGuildInput): GuildState {
    const roles: SimRole[] = [...(input.roles ?? [])];
    if (!roles.some((r) => r.id === input.id)) {
      roles.unshift({ id: input.id, name: "@everyone", permissions: DEFAULT_EVERYONE_PERMISSIONS.toString(), position: 0 });
    }
    const guild: GuildState = {
      id: input.id,
      name: input.name,
      ownerId: input.ownerId ?? "100000000000000000",
      roles,
      members: new Map(),
      channelIds: [],
    };
    this.guilds.set(guild.id, guild);
    const now = new Date().toISOString();
    guild.members.set(this.botUser.id, { userId: this.botUser.id, roles: [], nick: null, joinedAt: now });
    for (const m of input.members ?? []) this.putMember(guild, m);
    for (const [i, c] of input.channels.entries()) this.putChannel(guild, c, i);
    for (const t of input.threads ?? []) {
      this.putChannel(guild, { id: t.id, name: t.name, type: t.type ?? 11, parent_id: t.parent_id }, 0, t.owner_id);
    }
    return guild;
  }

  requireGuild(id: string): GuildState {
    const g = this.guilds.get(id);
    if (!g) throw new Error(`unknown guild ${id}`);
    return g;
  }

  requireChannel(id: string): ChannelState {
    const c = this.channels.get(id);
    if (!c) throw new Error(`unknown channel ${id}`);
    return c;
  }

  putMember(guild: GuildState, m: SimGuildMemberInput): void {
    this.addUser(m.user);
    guild.members.set(m.user.id, { userId: m.user.id, roles: m.roles ?? [], nick: m.nick ?? null, joinedAt: new Date().toISOString() });
  }

  /** Makes `user` a member of the guild when it is not one yet (users who post or interact are). */
  ensureMember(guildId: string | null, user: SimUser): void {
    if (!guildId) return;
    const g = this.requireGuild(guildId);
    if (!g.members.has(user.id)) this.putMember(g, { user });
  }

  newChannelState(p: Partial<ChannelState> & { id: string; type: number; name: string | null; guildId: string | null }): ChannelState {
    return {
      parentId: null,
      topic: null,
      position: 0,
      overwrites: [],
      recipients: [],
      ownerId: null,
      archived: false,
      locked: false,
      autoArchiveDuration: 1440,
      createdAt: new Date().toISOString(),
      messageIds: [],
      lastMessageId: null,
      totalMessageSent: 0,
      ...p,
    };
  }

  putChannel(guild: GuildState, c: SimChannelInput, position: number, ownerId?: string): ChannelState {
    const isThread = isThreadType(c.type);
    if (isThread && !c.parent_id) throw new Error(`thread ${c.id} needs parent_id`);
    const state = this.newChannelState({
      id: c.id,
      type: c.type,
      name: c.name,
      guildId: guild.id,
      parentId: c.parent_id ?? null,
      topic: c.topic ?? null,
      position,
      overwrites: c.permission_overwrites ?? [],
      ownerId: isThread ? (ownerId ?? guild.ownerId) : null,
    });
    this.channels.set(c.id, state);
    if (!guild.channelIds.includes(c.id)) guild.channelIds.push(c.id);
    return state;
  }

  /** The DM channel with `recipient`, created (with id `newId()`) when there is none. */
  openDm(recipient: string, newId: () => string): ChannelState {
    let ch = [...this.channels.values()].find((c) => c.type === 1 && c.recipients.some((u) => u.id === recipient));
    if (!ch) {
      ch = this.newChannelState({ id: newId(), type: 1, name: null, guildId: null, recipients: [this.users.get(recipient)!] });
      this.channels.set(ch.id, ch);
    }
    return ch;
  }

  botPermissions(ch: ChannelState): bigint {
    return this.userPermissions(ch, this.botUser.id);
  }

  /** A member's permissions in a channel (threads take their parent's overwrites); DMs allow everything. */
  userPermissions(ch: ChannelState, userId: string): bigint {
    if (!ch.guildId) return ALL_PERMISSIONS;
    const g = this.guilds.get(ch.guildId);
    if (!g) return 0n;
    const permCh = isThreadType(ch.type) && ch.parentId ? (this.channels.get(ch.parentId) ?? ch) : ch;
    return computePermissions({
      guildId: g.id,
      ownerId: g.ownerId,
      userId,
      memberRoleIds: g.members.get(userId)?.roles ?? [],
      rolePermissions: new Map(g.roles.map((r) => [r.id, BigInt(r.permissions ?? "0")])),
      overwrites: permCh.overwrites,
    });
  }

  /** What Discord answers when the bot may not send (or type) in `ch`; null when it may. */
  sendDenial(ch: ChannelState): ApiErrorResponse | null {
    if (!ch.guildId) return null;
    const perms = this.botPermissions(ch);
    if ((perms & Permission.ViewChannel) === 0n) return Errors.missingAccess();
    const isThread = isThreadType(ch.type);
    if ((perms & (isThread ? Permission.SendMessagesInThreads : Permission.SendMessages)) === 0n) return Errors.missingPermissions();
    if (isThread && ch.locked && (perms & Permission.ManageThreads) === 0n) return Errors.missingPermissions();
    return null;
  }
}
