/**
 * Users, members and channels as Discord puts them on the wire (REST answers and gateway payloads),
 * built from the world's state. Guild-level objects (GUILD_CREATE, READY, roles) are in guildWire.ts.
 */
import type { Json } from "../types.ts";
import { type ChannelState, type GuildState, isThreadType, type World } from "./World.ts";

export function userWire(world: World, userId: string): Json {
  const u = world.users.get(userId) ?? { id: userId, username: `user${userId.slice(-4)}` };
  return {
    id: u.id,
    username: u.username,
    discriminator: "0",
    global_name: u.global_name ?? null,
    avatar: null,
    ...(u.bot ? { bot: true } : {}),
    public_flags: 0,
    flags: 0,
    banner: null,
    accent_color: null,
    avatar_decoration_data: null,
  };
}

export function memberWire(world: World, guild: GuildState, userId: string, withUser = true): Json {
  const m = guild.members.get(userId);
  return {
    ...(withUser ? { user: userWire(world, userId) } : {}),
    roles: m?.roles ?? [],
    nick: m?.nick ?? null,
    avatar: null,
    joined_at: m?.joinedAt ?? new Date().toISOString(),
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  };
}

/** A user with `member` attached when they belong to the guild (as message `mentions` carry them). */
export function userWireWithMember(world: World, userId: string, guildId: string | null): Json {
  const u = userWire(world, userId);
  const g = guildId ? world.guilds.get(guildId) : undefined;
  if (g?.members.has(userId)) u.member = memberWire(world, g, userId, false);
  return u;
}

export function channelWire(world: World, ch: ChannelState): Json {
  if (ch.type === 1) {
    return { id: ch.id, type: 1, last_message_id: ch.lastMessageId, flags: 0, recipients: ch.recipients.map((u) => userWire(world, u.id)) };
  }
  const base: Json = {
    id: ch.id,
    type: ch.type,
    guild_id: ch.guildId,
    name: ch.name,
    parent_id: ch.parentId,
    last_message_id: ch.lastMessageId,
    rate_limit_per_user: 0,
    flags: 0,
  };
  if (isThreadType(ch.type)) {
    return {
      ...base,
      owner_id: ch.ownerId,
      message_count: ch.messageIds.length,
      member_count: 1,
      total_message_sent: ch.totalMessageSent,
      thread_metadata: {
        archived: ch.archived,
        auto_archive_duration: ch.autoArchiveDuration,
        archive_timestamp: ch.createdAt,
        locked: ch.locked,
        create_timestamp: ch.createdAt,
        ...(ch.type === 12 ? { invitable: true } : {}),
      },
      member: { id: ch.id, user_id: world.botUser.id, join_timestamp: ch.createdAt, flags: 0 },
    };
  }
  return { ...base, position: ch.position, permission_overwrites: ch.overwrites, topic: ch.topic, nsfw: false };
}

/** Channels (threads included) of a guild, on the wire. */
export function guildChannelsWire(world: World, guildId: string): Json[] {
  const g = world.requireGuild(guildId);
  return g.channelIds.map((id) => channelWire(world, world.channels.get(id)!));
}
