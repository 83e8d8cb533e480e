/** Guild routes: the guild itself, its channels, roles, one member, and its active threads. */
import { apiError, Errors } from "../discordErrors.ts";
import { errorReply, json, type Router } from "../http/Router.ts";
import { guildCreateData, roleWire } from "../state/guildWire.ts";
import type { SimState } from "../state/SimState.ts";
import { guildChannelsWire, memberWire } from "../state/wire.ts";

export function guildRoutes(router: Router, state: SimState): void {
  const { world } = state;
  const isThread = (c: { type?: unknown }) => Number(c.type) >= 10 && Number(c.type) <= 12;
  router.add("GET", "/guilds/:guild", (_r, [g]) => {
    const guild = world.guilds.get(g!);
    if (!guild) return errorReply(Errors.unknownGuild());
    const { channels: _c, threads: _t, members: _m, presences: _p, voice_states: _v, ...rest } = guildCreateData(world, guild);
    return json(rest);
  });
  router.add("GET", "/guilds/:guild/channels", (_r, [g]) =>
    world.guilds.has(g!) ? json(guildChannelsWire(world, g!).filter((c) => !isThread(c))) : errorReply(Errors.unknownGuild()),
  );
  router.add("GET", "/guilds/:guild/roles", (_r, [g]) => {
    const guild = world.guilds.get(g!);
    return guild ? json(guild.roles.map((r) => roleWire(r))) : errorReply(Errors.unknownGuild());
  });
  router.add("GET", "/guilds/:guild/members/:user", (_r, [g, u]) => {
    const guild = world.guilds.get(g!);
    if (!guild) return errorReply(Errors.unknownGuild());
    return guild.members.has(u!) ? json(memberWire(world, guild, u!)) : errorReply(apiError(404, 10007, "Unknown Member"));
  });
  router.add("GET", "/guilds/:guild/threads/active", (_r, [g]) => {
    if (!world.guilds.has(g!)) return errorReply(Errors.unknownGuild());
    const threads = guildChannelsWire(world, g!).filter(isThread);
    return json({ threads, members: threads.map((t) => t.member) });
  });
}
