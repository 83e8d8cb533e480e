/**
 * Connects the gateway server to the simulator's state: what READY and the GUILD_CREATEs after it
 * carry, how each session sees a dispatch, which tokens and privileged intents are accepted, and
 * the answer to REQUEST_GUILD_MEMBERS.
 */
import { guildCreateData, membersChunk, readyData } from "../state/guildWire.ts";
import type { SimState } from "../state/SimState.ts";
import type { StartOptions } from "../types.ts";
import type { GatewayHooks } from "./GatewayServer.ts";
import { Intent, viewFor } from "./gatewayView.ts";

export function gatewayHooks(state: SimState, opts: StartOptions): GatewayHooks {
  const world = state.world;
  return {
    readyData: () => readyData(world),
    afterReady: () => [...world.guilds.values()].map((g) => ({ t: "GUILD_CREATE", d: guildCreateData(world, g) })),
    view: (session, t, d) => viewFor(world.botUser.id, session, t, d),
    acceptToken: (token) => (opts.token === undefined ? token.length > 0 : token === opts.token),
    newSessionId: () => world.nextId().slice(-12) + Math.random().toString(16).slice(2, 22),
    allowedPrivilegedIntents: opts.allowedPrivilegedIntents ?? Intent.GuildMembers | (1 << 8) | Intent.MessageContent,
    membersChunk: (d) => membersChunk(world, d),
  };
}
