/**
 * Guild-level wire objects: roles, GUILD_CREATE (what the gateway sends per guild after READY),
 * READY itself, GUILD_MEMBERS_CHUNK and the application object. Built from the world's state.
 */
import type { Json, SimRole } from "../types.ts";
import { type GuildState, isThreadType, type World } from "./World.ts";
import { channelWire, memberWire, userWire } from "./wire.ts";

export function roleWire(r: SimRole): Json {
  return {
    id: r.id,
    name: r.name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position: r.position ?? 0,
    permissions: r.permissions ?? "0",
    managed: false,
    mentionable: false,
    flags: 0,
  };
}

export function guildCreateData(world: World, g: GuildState): Json {
  const channels = g.channelIds.map((id) => world.channels.get(id)!);
  const plain = channels.filter((c) => !isThreadType(c.type));
  const threads = channels.filter((c) => isThreadType(c.type) && !c.archived);
  const textChannel = plain.find((c) => c.type === 0);
  return {
    id: g.id,
    name: g.name,
    icon: null,
    icon_hash: null,
    splash: null,
    discovery_splash: null,
    owner_id: g.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    widget_enabled: false,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: g.roles.map((r) => roleWire(r)),
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: textChannel?.id ?? null,
    system_channel_flags: 0,
    rules_channel_id: null,
    max_members: 500000,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: "en-US",
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    safety_alerts_channel_id: null,
    joined_at: g.members.get(world.botUser.id)?.joinedAt ?? new Date().toISOString(),
    large: false,
    unavailable: false,
    member_count: g.members.size,
    voice_states: [],
    members: [...g.members.keys()].map((uid) => memberWire(world, g, uid)),
    channels: plain.map((c) => {
      const w = channelWire(world, c);
      delete w.guild_id; // GUILD_CREATE's channels come without guild_id
      return w;
    }),
    threads: threads.map((c) => channelWire(world, c)),
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
    lazy: true,
  };
}

/** READY's `d`; `owns` filters the guilds to the session's shard. */
export function readyData(world: World, owns: (guildId: string) => boolean = () => true): Json {
  return {
    v: 10,
    user: { ...userWire(world, world.botUser.id), verified: true, mfa_enabled: false, email: null },
    user_settings: {},
    relationships: [],
    private_channels: [],
    presences: [],
    guilds: [...world.guilds.keys()].filter(owns).map((id) => ({ id, unavailable: true })),
    guild_join_requests: [],
    geo_ordered_rtc_regions: [],
    application: { id: world.applicationId, flags: 0 },
    session_type: "normal",
    _trace: ['["qwenbot-sim-gateway"]'],
  };
}

/** The answer to REQUEST_GUILD_MEMBERS (op 8): one GUILD_MEMBERS_CHUNK with every requested member. */
export function membersChunk(world: World, d: Json): Json[] {
  const g = typeof d.guild_id === "string" ? world.guilds.get(d.guild_id) : undefined;
  if (!g) return [];
  const ids = Array.isArray(d.user_ids) ? (d.user_ids as string[]) : [...g.members.keys()];
  const members = ids.filter((id) => g.members.has(id)).map((id) => memberWire(world, g, id));
  return [{ guild_id: g.id, members, chunk_index: 0, chunk_count: 1, not_found: [], ...(d.nonce ? { nonce: d.nonce } : {}) }];
}

export function applicationWire(world: World): Json {
  return {
    id: world.applicationId,
    name: world.botUser.username,
    icon: null,
    description: "",
    summary: "",
    type: null,
    bot_public: true,
    bot_require_code_grant: false,
    verify_key: "0".repeat(64),
    flags: 0,
    team: null,
    owner: {
      id: "100000000000000000",
      username: "owner",
      discriminator: "0",
      global_name: null,
      avatar: null,
      public_flags: 0,
      flags: 0,
    },
    bot: userWire(world, world.botUser.id),
    approximate_guild_count: world.guilds.size,
    redirect_uris: [],
    interactions_endpoint_url: null,
    tags: [],
    integration_types_config: { "0": {} },
  };
}
