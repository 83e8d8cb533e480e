/** Application commands as the bot last registered them: the global set and one set per guild. */
import type { CommandRecord } from "../types.ts";

export class CommandStore {
  /** global commands (the facade's `commands`) */
  global: CommandRecord[] = [];
  private readonly perGuild = new Map<string, CommandRecord[]>();

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
}
