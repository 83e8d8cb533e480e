/**
 * The workspaces (teams) the Slack simulator hosts, each with its channels, users, messages and
 * ephemeral messages, and which bot token belongs to which workspace (`xoxb-<team>-…`, or
 * registered). Channels and users a test mentions without adding them are created on first use.
 */
import type { ChannelType, SimEphemeral, SimTeamOptions } from "../types.ts";
import type { StoredMessage } from "./MessageStore.ts";

export interface ChannelState {
  id: string;
  name: string;
  type: ChannelType;
  user?: string;
  created: number;
}

export interface UserState {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
  botId?: string;
}

export interface TeamState {
  id: string;
  name: string;
  domain: string;
  botUserId: string;
  botId: string;
  channels: Map<string, ChannelState>;
  users: Map<string, UserState>;
  /** per channel, in ts order (thread replies included) */
  messages: Map<string, StoredMessage[]>;
  ephemerals: SimEphemeral[];
}

/** The kind Slack's id prefixes say: D… DM, G… private channel, else public channel. */
export function channelTypeOf(id: string): ChannelType {
  if (id.startsWith("D")) return "im";
  if (id.startsWith("G")) return "group";
  return "channel";
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "workspace"
  );
}

export class Workspaces {
  private readonly teams = new Map<string, TeamState>();
  private readonly tokenTeams = new Map<string, string>();

  /** Bot identity used for workspaces that do not set their own. */
  constructor(private readonly bot: { botUserId: string; botId: string; botName: string }) {}

  addTeam(team: SimTeamOptions): void {
    const name = team.name ?? `Team ${team.id}`;
    const state: TeamState = {
      id: team.id,
      name,
      domain: team.domain ?? slug(name),
      botUserId: team.botUserId ?? this.bot.botUserId,
      botId: team.botId ?? this.bot.botId,
      channels: new Map(),
      users: new Map(),
      messages: new Map(),
      ephemerals: [],
    };
    state.users.set(state.botUserId, {
      id: state.botUserId,
      name: this.bot.botName,
      realName: this.bot.botName,
      isBot: true,
      botId: state.botId,
    });
    this.teams.set(team.id, state);
  }

  registerBotToken(token: string, teamId: string): void {
    this.team(teamId);
    this.tokenTeams.set(token, teamId);
  }

  addChannel(teamId: string, channel: { id: string; name?: string; type?: ChannelType; user?: string }): void {
    const team = this.team(teamId);
    const state: ChannelState = {
      id: channel.id,
      name: channel.name ?? channel.id.toLowerCase(),
      type: channel.type ?? channelTypeOf(channel.id),
      created: Math.floor(Date.now() / 1000),
    };
    if (channel.user !== undefined) state.user = channel.user;
    team.channels.set(channel.id, state);
  }

  addUser(teamId: string, user: { id: string; name?: string; realName?: string; isBot?: boolean }): void {
    const team = this.team(teamId);
    const name = user.name ?? user.id.toLowerCase();
    team.users.set(user.id, { id: user.id, name, realName: user.realName ?? name, isBot: user.isBot ?? false });
  }

  team(teamId: string): TeamState {
    const team = this.teams.get(teamId);
    if (!team) throw new Error(`SlackSimulator: unknown team ${teamId}`);
    return team;
  }

  /** The workspace a bot token belongs to: registered, else `xoxb-<team>-…`. */
  teamForToken(token: string): TeamState | undefined {
    if (!token) return undefined;
    const explicit = this.tokenTeams.get(token);
    if (explicit !== undefined) return this.teams.get(explicit);
    const match = /^xoxb-([^-]+)(?:-|$)/.exec(token);
    return match?.[1] !== undefined ? this.teams.get(match[1]) : undefined;
  }

  ensureChannel(team: TeamState, id: string, name?: string): ChannelState {
    let channel = team.channels.get(id);
    if (!channel) {
      this.addChannel(team.id, name !== undefined ? { id, name } : { id });
      channel = team.channels.get(id) as ChannelState;
    }
    return channel;
  }

  ensureUser(team: TeamState, id: string, name?: string): void {
    if (!team.users.has(id)) this.addUser(team.id, name !== undefined ? { id, name } : { id });
  }
}
