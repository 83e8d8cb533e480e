/**
 * Connects the gateway server to the simulator's state: what READY and the GUILD_CREATEs after it
 * carry, how each session sees a dispatch, which tokens and privileged intents are accepted, and
 * the answer to REQUEST_GUILD_MEMBERS.
 */
import { guildCreateData, membersChunk, readyData } from "../state/guildWire.ts";
import { Permission } from "../state/permissions.ts";
import type { SimState } from "../state/SimState.ts";
import type { StartOptions } from "../types.ts";
import { isObject } from "../util.ts";
import type { GatewayHooks } from "./GatewayServer.ts";
import { Intent, viewFor } from "./gatewayView.ts";

export function gatewayHooks(state: SimState, opts: StartOptions): GatewayHooks {
  const world = state.world;
  return {
    readyData: (session) => readyData(world, (g) => ownsGuild(session.shard, g)),
    afterReady: (session) =>
      [...world.guilds.values()]
        .filter((g) => ownsGuild(session.shard, g.id))
        .map((g) => ({ t: "GUILD_CREATE", d: guildCreateData(world, g) })),
    view: (session, t, d) =>
      !shardReceives(session.shard, t, d) || channelHidden(state, t, d) ? null : viewFor(world.botUser.id, session, t, d),
    shardingRequired: (shard) => [...world.guilds.keys()].filter((g) => ownsGuild(shard, g)).length > state.gatewayBot.maxGuildsPerShard,
    identifyConcurrency: () => ({ maxConcurrency: state.gatewayBot.maxConcurrency, enforce: state.gatewayBot.enforceMaxConcurrency }),
    onSessionStart: () => {
      state.gatewayBot.remaining = Math.max(0, state.gatewayBot.remaining - 1);
    },
    acceptToken: (token) => (opts.token === undefined ? token.length > 0 : token === opts.token),
    newSessionId: () => world.nextId().slice(-12) + Math.random().toString(16).slice(2, 22),
    allowedPrivilegedIntents: opts.allowedPrivilegedIntents ?? Intent.GuildMembers | (1 << 8) | Intent.MessageContent,
    membersChunk: (d) => membersChunk(world, d),
  };
}

/** Discord's sharding formula: `shard_id = (guild_id >> 22) % num_shards`. */
export function shardOf(guildId: string, numShards: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(numShards));
}

/** Whether a session identified with `shard` (null: unsharded, i.e. [0, 1]) receives the guild's events. */
function ownsGuild(shard: [number, number] | null, guildId: string): boolean {
  return !shard || shardOf(guildId, shard[1]) === shard[0];
}

/** Session events always go to their session; guild events to the guild's shard; events without a guild only to shard 0. */
function shardReceives(shard: [number, number] | null, t: string, d: unknown): boolean {
  if (!shard || t === "READY" || t === "RESUMED") return true;
  const data = isObject(d) ? d : {};
  const guildId = t.startsWith("GUILD_") && !("guild_id" in data) ? data.id : data.guild_id;
  return typeof guildId === "string" ? ownsGuild(shard, guildId) : shard[0] === 0;
}

/** Events about messages, reactions and typing in a guild channel the bot cannot view are not sent to it. */
const CHANNEL_SCOPED = new Set([
  "MESSAGE_CREATE",
  "MESSAGE_UPDATE",
  "MESSAGE_DELETE",
  "MESSAGE_DELETE_BULK",
  "MESSAGE_REACTION_ADD",
  "MESSAGE_REACTION_REMOVE",
  "TYPING_START",
]);

function channelHidden(state: SimState, t: string, d: unknown): boolean {
  if (!CHANNEL_SCOPED.has(t) || !isObject(d) || typeof d.channel_id !== "string") return false;
  const ch = state.world.channels.get(d.channel_id);
  if (!ch?.guildId) return false;
  return (state.world.botPermissions(ch) & Permission.ViewChannel) === 0n;
}
