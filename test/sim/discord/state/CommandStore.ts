/**
 * Application commands as the bot last registered them (the global set and one set per guild),
 * and the command permission overrides a server's admins set in Server Settings → Integrations
 * (per command, or for the whole app when keyed by the application id).
 */
import type { CommandRecord } from "../types.ts";

/** One override: a role (1), user (2) or channel (3) allowed or denied; `id` may be the guild id (@everyone) or guild id − 1 (all channels). */
export interface CommandPermission {
  id: string;
  type: 1 | 2 | 3;
  permission: boolean;
}

export class CommandStore {
  /** global commands (the facade's `commands`) */
  global: CommandRecord[] = [];
  private readonly perGuild = new Map<string, CommandRecord[]>();
  /** guild id → (command id or application id) → overrides */
  private readonly overrides = new Map<string, Map<string, CommandPermission[]>>();

  /** The guild's set when `guildId` is given, else the global one. */
  list(guildId: string | null): CommandRecord[] {
    return guildId !== null ? (this.perGuild.get(guildId) ?? []) : this.global;
  }

  set(guildId: string | null, commands: CommandRecord[]): void {
    if (guildId !== null) this.perGuild.set(guildId, commands);
    else this.global = commands;
  }

  /** The command an invocation of `name` runs: the guild's, else the global one. */
  find(name: string, guildId: string | null): CommandRecord | undefined {
    return (guildId ? this.perGuild.get(guildId)?.find((c) => c.name === name) : undefined) ?? this.global.find((c) => c.name === name);
  }

  setPermissions(guildId: string, targetId: string, permissions: CommandPermission[]): void {
    let g = this.overrides.get(guildId);
    if (!g) {
      g = new Map();
      this.overrides.set(guildId, g);
    }
    g.set(
      targetId,
      permissions.map((p) => ({ ...p })),
    );
  }

  permissions(guildId: string, targetId: string): CommandPermission[] | undefined {
    return this.overrides.get(guildId)?.get(targetId);
  }

  /** Every override set in the guild: [command or application id, overrides]. */
  allPermissions(guildId: string): Array<[string, CommandPermission[]]> {
    return [...(this.overrides.get(guildId)?.entries() ?? [])];
  }
}
