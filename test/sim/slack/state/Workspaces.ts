/**
 * The workspaces (teams) the Slack simulator hosts, each with its channels, users, messages and
 * ephemeral messages, and which bot token belongs to which workspace (`xoxb-<team>-…`, or
 * registered). Channels and users a test mentions without adding them are created on first use.
 */
import type { ChannelType, SimEphemeral, SimTeamOptions } from "../types.ts";
import type { StoredMessage } from "./MessageStore.ts";

/** Slack's largest upload (1 GB). */
export const SLACK_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;

/** A user as a test adds one: roles as `users.info` reports them. */
export interface AddUserInput {
  id: string;
  name?: string;
  realName?: string;
  isBot?: boolean;
  /** Workspace admin (`is_admin`). */
  isAdmin?: boolean;
  /** Workspace owner (`is_owner`; owners are admins too). */
  isOwner?: boolean;
  /** The primary owner (`is_primary_owner`; also owner and admin). */
  isPrimaryOwner?: boolean;
  /** A guest (`is_restricted`). */
  isRestricted?: boolean;
  deleted?: boolean;
}

/** A channel as a test adds one. */
export interface AddChannelInput {
  id: string;
  name?: string;
  type?: ChannelType;
  /** For a DM: the user on the other side. */
  user?: string;
  /** The bot is not a member: posting answers `not_in_channel`. Default true (member). */
  botIsMember?: boolean;
  /** Archived: posting answers `is_archived`. */
  archived?: boolean;
}

export interface ChannelState {
  id: string;
  name: string;
  type: ChannelType;
  user?: string;
  created: number;
  botIsMember: boolean;
  archived: boolean;
}

export interface UserState {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
  botId?: string;
  isAdmin: boolean;
  isOwner: boolean;
  isPrimaryOwner: boolean;
  isRestricted: boolean;
  deleted: boolean;
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
  /** the bot token's scopes; undefined = every scope */
  scopes: Set<string> | undefined;
  /** methods switched off in this workspace → the error they answer */
  disabledMethods: Map<string, string>;
  maxUploadBytes: number;
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
      scopes: team.scopes ? new Set(team.scopes) : undefined,
      disabledMethods: new Map(),
      maxUploadBytes: team.maxUploadBytes ?? SLACK_MAX_UPLOAD_BYTES,
    };
    state.users.set(state.botUserId, {
      id: state.botUserId,
      name: this.bot.botName,
      realName: this.bot.botName,
      isBot: true,
      botId: state.botId,
      isAdmin: false,
      isOwner: false,
      isPrimaryOwner: false,
      isRestricted: false,
      deleted: false,
    });
    this.teams.set(team.id, state);
  }

  registerBotToken(token: string, teamId: string): void {
    this.team(teamId);
    this.tokenTeams.set(token, teamId);
  }

  addChannel(teamId: string, channel: AddChannelInput): void {
    const team = this.team(teamId);
    const state: ChannelState = {
      id: channel.id,
      name: channel.name ?? channel.id.toLowerCase(),
      type: channel.type ?? channelTypeOf(channel.id),
      created: Math.floor(Date.now() / 1000),
      botIsMember: channel.botIsMember ?? true,
      archived: channel.archived ?? false,
    };
    if (channel.user !== undefined) state.user = channel.user;
    team.channels.set(channel.id, state);
  }

  addUser(teamId: string, user: AddUserInput): void {
    const team = this.team(teamId);
    const name = user.name ?? user.id.toLowerCase();
    const isPrimaryOwner = user.isPrimaryOwner ?? false;
    const isOwner = (user.isOwner ?? false) || isPrimaryOwner;
    team.users.set(user.id, {
      id: user.id,
      name,
      realName: user.realName ?? name,
      isBot: user.isBot ?? false,
      isAdmin: (user.isAdmin ?? false) || isOwner,
      isOwner,
      isPrimaryOwner,
      isRestricted: user.isRestricted ?? false,
      deleted: user.deleted ?? false,
    });
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
