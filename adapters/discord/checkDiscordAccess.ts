/**
 * Who may use the bot where: optional allowlists of guilds, channels, roles and users, and DMs
 * on or off. Empty lists allow everyone. Places (guilds, channels) and people (users, roles)
 * are checked separately: a person must be in DISCORD_ALLOWED_USERS or hold one of
 * DISCORD_ALLOWED_ROLES when either list is set (in DMs there are no roles, so only the user
 * list can let someone in there).
 */
import type { Config } from "../../src/config.ts";

export type DiscordAccessConfig = Pick<
  Config,
  "DISCORD_ALLOW_DMS" | "DISCORD_ALLOWED_GUILDS" | "DISCORD_ALLOWED_CHANNELS" | "DISCORD_ALLOWED_ROLES" | "DISCORD_ALLOWED_USERS"
>;

export interface DiscordAccessContext {
  /** null in DMs */
  guildId: string | null;
  channelId: string;
  /** a thread's parent channel (threads are allowed where their parent is) */
  parentId: string | null;
  userId: string;
  /** the member's role ids; null when unknown (DMs) */
  roleIds: readonly string[] | null;
}

export type DiscordAccessDecision = { ok: true } | { ok: false; reason: "dms" | "guild" | "channel" | "person"; message: string };

/** What a refused user is told. Short, and safe to show in a DM (no list of who is allowed). */
export const ACCESS_MESSAGES = {
  dms: "I don't answer direct messages — mention me in a server channel instead.",
  guild: "Sorry, I'm not enabled on this server.",
  channel: "Sorry, I don't answer in this channel — try another one.",
  person: "Sorry, you don't have access to this bot. Ask a server admin if you think you should.",
} as const;

const set = (list: readonly string[] | undefined) => (list && list.length > 0 ? new Set(list) : undefined);

export function checkDiscordAccess(config: DiscordAccessConfig, ctx: DiscordAccessContext): DiscordAccessDecision {
  const refuse = (reason: keyof typeof ACCESS_MESSAGES): DiscordAccessDecision => ({ ok: false, reason, message: ACCESS_MESSAGES[reason] });
  const guilds = set(config.DISCORD_ALLOWED_GUILDS);
  const channels = set(config.DISCORD_ALLOWED_CHANNELS);
  const users = set(config.DISCORD_ALLOWED_USERS);
  const roles = set(config.DISCORD_ALLOWED_ROLES);
  if (ctx.guildId === null) {
    if (!config.DISCORD_ALLOW_DMS) return refuse("dms");
  } else {
    if (guilds && !guilds.has(ctx.guildId)) return refuse("guild");
    if (channels && !channels.has(ctx.channelId) && !(ctx.parentId && channels.has(ctx.parentId))) return refuse("channel");
  }
  if (users || roles) {
    const byUser = users?.has(ctx.userId) ?? false;
    const byRole = roles !== undefined && (ctx.roleIds ?? []).some((r) => roles.has(r));
    if (!byUser && !byRole) return refuse("person");
  }
  return { ok: true };
}
