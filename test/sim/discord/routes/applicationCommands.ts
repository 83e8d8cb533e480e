/**
 * Application command routes, global (`/applications/:app/commands`) and per guild
 * (`/applications/:app/guilds/:guild/commands`): list, bulk overwrite (PUT), create or update
 * (POST), delete. Ids survive a re-registration of the same name and type, as on Discord.
 */
import { apiError, Errors, invalidFormBody } from "../discordErrors.ts";
import { errorReply, json, type ParsedRequest, type Reply, type Router } from "../http/Router.ts";
import type { CommandPermission } from "../state/CommandStore.ts";
import type { SimState } from "../state/SimState.ts";
import type { CommandRecord, Json } from "../types.ts";
import { validateCommand } from "./validateCommand.ts";

export function applicationCommandRoutes(router: Router, state: SimState): void {
  const withApp = (app: string, f: () => Reply): Reply => (app !== state.applicationId ? errorReply(Errors.unknownApplication()) : f());
  router.add("GET", "/applications/:app/commands", (_r, [app]) => withApp(app!, () => json(state.commands.global)));
  router.add("PUT", "/applications/:app/commands", (r, [app]) => withApp(app!, () => putCommands(state, r, null)));
  router.add("POST", "/applications/:app/commands", (r, [app]) => withApp(app!, () => postCommand(state, r, null)));
  router.add("DELETE", "/applications/:app/commands/:id", (_r, [app, id]) => withApp(app!, () => deleteCommand(state, null, id!)));
  router.add("GET", "/applications/:app/guilds/:guild/commands/permissions", (_r, [app, g]) =>
    withApp(app!, () => json(state.commands.allPermissions(g!).map(([id, permissions]) => permissionsWire(state, g!, id, permissions)))),
  );
  router.add("GET", "/applications/:app/guilds/:guild/commands/:id/permissions", (_r, [app, g, id]) =>
    withApp(app!, () => {
      const permissions = state.commands.permissions(g!, id!);
      return permissions
        ? json(permissionsWire(state, g!, id!, permissions))
        : errorReply(apiError(404, 10066, "Unknown application command permissions"));
    }),
  );
  router.add("GET", "/applications/:app/guilds/:guild/commands", (_r, [app, g]) => withApp(app!, () => json(state.commands.list(g!))));
  router.add("PUT", "/applications/:app/guilds/:guild/commands", (r, [app, g]) => withApp(app!, () => putCommands(state, r, g!)));
  router.add("POST", "/applications/:app/guilds/:guild/commands", (r, [app, g]) => withApp(app!, () => postCommand(state, r, g!)));
  router.add("DELETE", "/applications/:app/guilds/:guild/commands/:id", (_r, [app, g, id]) =>
    withApp(app!, () => deleteCommand(state, g!, id!)),
  );
}

function putCommands(state: SimState, r: ParsedRequest, guildId: string | null): Reply {
  if (guildId && !state.world.guilds.has(guildId)) return errorReply(apiError(403, 50001, "Missing Access"));
  if (!Array.isArray(r.body)) return errorReply(invalidFormBody([], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"));
  if (r.body.length > 100) return errorReply(invalidFormBody([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."));
  const existing = state.commands.list(guildId);
  const out: CommandRecord[] = [];
  const names = new Set<string>();
  for (const [i, c] of r.body.entries()) {
    const { command, error } = validateCommand(c, i, state.applicationId, state.nextId);
    if (error) return errorReply(error);
    const key = `${command!.type}:${command!.name}`;
    if (names.has(key))
      return errorReply(invalidFormBody([i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", `Application command names must be unique`));
    names.add(key);
    command!.id = existing.find((e) => e.name === command!.name && e.type === command!.type)?.id ?? state.nextId();
    if (guildId) command!.guild_id = guildId;
    out.push(command!);
  }
  state.commands.set(guildId, out);
  return { status: 200, body: out };
}

function postCommand(state: SimState, r: ParsedRequest, guildId: string | null): Reply {
  if (guildId && !state.world.guilds.has(guildId)) return errorReply(apiError(403, 50001, "Missing Access"));
  const { command, error } = validateCommand(r.body, null, state.applicationId, state.nextId);
  if (error) return errorReply(error);
  const list = state.commands.list(guildId);
  const prior = list.find((e) => e.name === command!.name && e.type === command!.type);
  command!.id = prior?.id ?? state.nextId();
  if (guildId) command!.guild_id = guildId;
  state.commands.set(guildId, [...list.filter((e) => e !== prior), command!]);
  return { status: prior ? 200 : 201, body: command };
}

function deleteCommand(state: SimState, guildId: string | null, id: string): Reply {
  const list = state.commands.list(guildId);
  if (!list.some((c) => c.id === id)) return errorReply(apiError(404, 10063, "Unknown application command"));
  state.commands.set(
    guildId,
    list.filter((c) => c.id !== id),
  );
  return { status: 204 };
}

/** The guild application command permissions object. */
export function permissionsWire(state: SimState, guildId: string, id: string, permissions: CommandPermission[]): Json {
  return { id, application_id: state.applicationId, guild_id: guildId, permissions: permissions.map((p) => ({ ...p })) };
}
