/**
 * Whether Discord offers a command to a member in a channel (it is hidden, and cannot be run,
 * otherwise), following Discord's command permission rules: Administrators may use every command;
 * a channel override (the command's, else the app's; the thread's parent channel; "all channels"
 * = guild id − 1) can disable it; then the member's user override, role overrides (any allow wins
 * over denies) and the @everyone override (guild id) — the command's first, then the app's; with
 * none of those, `default_member_permissions` must be a subset of the member's permissions in the
 * channel ("0": admins only; null: everyone). DMs: always offered.
 */
import type { CommandRecord } from "../types.ts";
import type { CommandPermission, CommandStore } from "./CommandStore.ts";
import { Permission } from "./permissions.ts";
import { isThreadType, type World } from "./World.ts";

export interface CommandAccess {
  allowed: boolean;
  /** which rule decided */
  reason: string;
}

export function commandAccess(
  world: World,
  store: CommandStore,
  cmd: CommandRecord | undefined,
  channelId: string,
  userId: string,
): CommandAccess {
  const ch = world.requireChannel(channelId);
  if (!ch.guildId || !cmd) return { allowed: true, reason: ch.guildId ? "unregistered command" : "DM" };
  const guild = world.requireGuild(ch.guildId);
  const perms = world.userPermissions(ch, userId);
  if ((perms & Permission.Administrator) !== 0n || guild.ownerId === userId) return { allowed: true, reason: "administrator" };
  const levels = [store.permissions(guild.id, cmd.id), store.permissions(guild.id, world.applicationId)].filter(
    (x): x is CommandPermission[] => x !== undefined,
  );
  const channelIds = [isThreadType(ch.type) && ch.parentId ? ch.parentId : ch.id];
  const allChannels = (BigInt(guild.id) - 1n).toString();
  for (const level of levels) {
    const own = level.find((p) => p.type === 3 && channelIds.includes(p.id)) ?? level.find((p) => p.type === 3 && p.id === allChannels);
    if (own) {
      if (!own.permission) return { allowed: false, reason: "disabled in this channel" };
      break;
    }
  }
  const roles = guild.members.get(userId)?.roles ?? [];
  for (const level of levels) {
    const user = level.find((p) => p.type === 2 && p.id === userId);
    if (user) return { allowed: user.permission, reason: "user override" };
    const roleOverrides = level.filter((p) => p.type === 1 && roles.includes(p.id));
    if (roleOverrides.some((p) => p.permission)) return { allowed: true, reason: "role override" };
    if (roleOverrides.length > 0) return { allowed: false, reason: "role override" };
    const everyone = level.find((p) => p.type === 1 && p.id === guild.id);
    if (everyone) return { allowed: everyone.permission, reason: "@everyone override" };
  }
  const dmp = cmd.default_member_permissions;
  if (dmp === null || dmp === undefined) return { allowed: true, reason: "no default_member_permissions" };
  const need = BigInt(String(dmp));
  if (need === 0n) return { allowed: false, reason: 'default_member_permissions "0" (administrators only)' };
  return (perms & need) === need
    ? { allowed: true, reason: "default_member_permissions" }
    : { allowed: false, reason: `lacks default_member_permissions ${need.toString()}` };
}
