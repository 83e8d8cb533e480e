/**
 * A Discord simulator on loopback for tests: REST (`/api/v10/...`) and a gateway on one port,
 * spoken to by the real discord.js 14 client (`rest: { api: sim.apiBase }`).
 *
 * It keeps a small world (guilds, channels, threads, DMs, users, messages), answers REST with
 * real-shaped objects and X-RateLimit-* headers, validates bodies the way Discord does (2000
 * characters, never truncated), can script 429s and 5xx, enforces optional per-route limits,
 * and records everything as a user would see it: each message's current state and every version.
 *
 * Paths given to `failNext` / `setRouteLimit` and recorded in `requests` are without `/api` and
 * `/vN` (e.g. `/channels/1/messages/2`).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type ApiErrorResponse, apiError, Errors, invalidFormBody } from "./discordErrors.ts";
import { GatewayServer, type GatewaySession } from "./GatewayServer.ts";
import { ALL_PERMISSIONS, computePermissions, DEFAULT_EVERYONE_PERMISSIONS, Permission } from "./permissions.ts";
import { RateLimiter, type RouteLimitOptions } from "./RateLimiter.ts";
import { createSnowflakeGenerator } from "./snowflake.ts";
import type {
  CommandRecord,
  DispatchRecord,
  FailResponse,
  GatewayConnectionRecord,
  IdentifyRecord,
  InteractionResponseRecord,
  Json,
  MessageRecord,
  MessageVersion,
  RequestRecord,
  ResumeRecord,
  SimChannelInput,
  SimGuildInput,
  SimGuildMemberInput,
  SimPermissionOverwrite,
  SimRole,
  SimUser,
  StartOptions,
  TypingRecord,
} from "./types.ts";
import { validateMessageBody } from "./validateMessageBody.ts";

export { Permission } from "./permissions.ts";
export type { RouteLimitOptions } from "./RateLimiter.ts";
export type * from "./types.ts";

/** Gateway intent bits used by the simulator's filtering. */
export const Intent = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

const MessageFlag = { HasThread: 1 << 5, Ephemeral: 1 << 6, Loading: 1 << 7 } as const;
const INTERACTION_TOKEN_TTL_MS = 15 * 60 * 1000;

/** A message on the wire (Discord's message object). */
export interface WireMessage {
  id: string;
  channel_id: string;
  content: string;
  author: Json;
  [key: string]: unknown;
}

export interface UserSaysOptions {
  channelId: string;
  /** defaults to the channel's guild */
  guildId?: string;
  author: { id: string; username: string; bot?: boolean; global_name?: string | null };
  content: string;
  /** true: the message mentions the bot (`<@BOT>` is prepended when missing); default: whether content contains it */
  mentionsBot?: boolean;
  attachments?: Array<{ filename: string; size?: number; content_type?: string; url?: string }>;
  /** make it a reply to an existing message in the same channel */
  messageReference?: { messageId: string /** ping the replied-to author (default true, as Discord clients do) */; ping?: boolean };
}

export interface InteractionOptions {
  /** 2 application command, 3 message component */
  type: 2 | 3;
  /** command name (type 2) */
  name?: string;
  /** command options: name → value, or raw option objects */
  options?: Record<string, string | number | boolean> | Array<{ name: string; type: number; value?: unknown; options?: unknown[] }>;
  /** component custom_id (type 3) */
  customId?: string;
  /** select menu values (type 3) */
  values?: string[];
  channelId: string;
  guildId?: string;
  user: { id: string; username: string; bot?: boolean; global_name?: string | null };
  /** the message carrying the component (type 3) */
  messageId?: string;
}

export interface InteractionHandle {
  id: string;
  token: string;
  payload: Json;
  /** every callback/webhook response recorded for this interaction, in order */
  responses(): InteractionResponseRecord[];
  /** resolves with the first response matching `pred` (default: any) */
  waitForResponse(pred?: (r: InteractionResponseRecord) => boolean, timeoutMs?: number): Promise<InteractionResponseRecord>;
  /** the original response message (reply/deferred/updated message), if any */
  original(): MessageRecord | undefined;
}

interface ChannelState {
  id: string;
  type: number;
  name: string | null;
  guildId: string | null;
  parentId: string | null;
  topic: string | null;
  position: number;
  overwrites: SimPermissionOverwrite[];
  recipients: SimUser[];
  ownerId: string | null;
  archived: boolean;
  locked: boolean;
  autoArchiveDuration: number;
  createdAt: string;
  messageIds: string[];
  lastMessageId: string | null;
  totalMessageSent: number;
}

interface MemberState {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: string;
}

interface GuildState {
  id: string;
  name: string;
  ownerId: string;
  roles: SimRole[];
  members: Map<string, MemberState>;
  channelIds: string[];
}

interface StoredMessage {
  wire: WireMessage;
  record: MessageRecord;
  versions: MessageVersion[];
  /** replied_user ping of the create (kept for edits without allowed_mentions) */
  repliedUserPing: boolean;
}

interface InteractionState {
  id: string;
  token: string;
  type: number;
  channelId: string;
  guildId: string | null;
  userId: string;
  payload: Json;
  createdAt: number;
  acked: boolean;
  callbackType: number | null;
  originalMessageId: string | null;
  targetMessageId: string | null;
  commandName: string | null;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface ParsedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Json | unknown[] | null;
  files: Array<{ name: string; filename: string; size: number; contentType: string }>;
  auth: string | null;
}

interface ScriptedFault {
  method: string;
  path: RegExp;
  response: FailResponse;
  remaining: number;
}

type Handler = (req: ParsedRequest, params: string[]) => Reply | Promise<Reply>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function errorReply(e: ApiErrorResponse): Reply {
  return { status: e.status, body: e.body };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class DiscordSimulator {
  readonly botUser: Required<Pick<SimUser, "id" | "username">> & { bot: true };
  readonly applicationId: string;

  /** every REST request, in arrival order */
  readonly requests: RequestRecord[] = [];
  /** global application commands as last registered */
  commands: CommandRecord[] = [];
  /** interaction callbacks and webhook (original/followup) calls */
  readonly interactionResponses: InteractionResponseRecord[] = [];
  /** POST /channels/:id/typing calls */
  readonly typing: TypingRecord[] = [];
  /** reactions the bot added: PUT /channels/:c/messages/:m/reactions/:emoji/@me */
  readonly reactions: Array<{ channelId: string; messageId: string; emoji: string; time: number }> = [];
  /** REST requests no route answered (404) — what the client asked that the simulator lacks */
  readonly unhandled: Array<{ method: string; path: string }> = [];

  private server!: http.Server;
  private port = 0;
  private readonly gateway: GatewayServer;
  private readonly limiter = new RateLimiter();
  private readonly faults: ScriptedFault[] = [];
  private readonly nextId = createSnowflakeGenerator(1);
  private readonly users = new Map<string, SimUser>();
  private readonly guilds = new Map<string, GuildState>();
  private readonly channels = new Map<string, ChannelState>();
  private readonly store = new Map<string, StoredMessage>();
  private readonly interactions = new Map<string, InteractionState>();
  private readonly guildCommandSets = new Map<string, CommandRecord[]>();
  private readonly routes: Array<{ method: string; re: RegExp; handler: Handler }> = [];
  private readonly token: string | undefined;
  private readonly interactionAckTimeoutMs: number;

  private constructor(opts: StartOptions) {
    const botId = opts.botUserId ?? "900000000000000001";
    this.botUser = { id: botId, username: opts.botUsername ?? "qwenbot", bot: true };
    this.applicationId = opts.applicationId ?? botId;
    this.token = opts.token;
    this.interactionAckTimeoutMs = opts.interactionAckTimeoutMs ?? 3000;
    this.users.set(botId, { ...this.botUser });
    this.gateway = new GatewayServer(
      {
        readyData: () => this.readyData(),
        afterReady: () => [...this.guilds.values()].map((g) => ({ t: "GUILD_CREATE", d: this.guildCreateData(g) })),
        view: (session, t, d) => this.viewFor(session, t, d),
        acceptToken: (token) => (this.token === undefined ? token.length > 0 : token === this.token),
        newSessionId: () => this.nextId().slice(-12) + Math.random().toString(16).slice(2, 22),
        allowedPrivilegedIntents: opts.allowedPrivilegedIntents ?? Intent.GuildMembers | (1 << 8) | Intent.MessageContent,
        membersChunk: (d) => this.membersChunk(d),
      },
      { heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 41250, resumeUrl: () => `ws://127.0.0.1:${this.port}/resume` },
    );
    this.defineRoutes();
  }

  static async start(opts: StartOptions = {}): Promise<DiscordSimulator> {
    const sim = new DiscordSimulator(opts);
    sim.server = http.createServer((req, res) => void sim.onRequest(req, res));
    sim.server.on("upgrade", (req, socket, head) => sim.gateway.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      sim.server.once("error", reject);
      sim.server.listen(0, "127.0.0.1", () => resolve());
    });
    sim.port = (sim.server.address() as AddressInfo).port;
    return sim;
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** What discord.js takes as `rest: { api }` (and the bot's DISCORD_API_URL). */
  get apiBase(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** The gateway URL that GET /gateway/bot hands out. */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  // ---------------------------------------------------------------- world

  addUser(user: SimUser): SimUser {
    const u = { ...this.users.get(user.id), ...user };
    this.users.set(user.id, u);
    return u;
  }

  addGuild(input: SimGuildInput): void {
    const roles: SimRole[] = [...(input.roles ?? [])];
    if (!roles.some((r) => r.id === input.id)) {
      roles.unshift({ id: input.id, name: "@everyone", permissions: DEFAULT_EVERYONE_PERMISSIONS.toString(), position: 0 });
    }
    const guild: GuildState = {
      id: input.id,
      name: input.name,
      ownerId: input.ownerId ?? "100000000000000000",
      roles,
      members: new Map(),
      channelIds: [],
    };
    this.guilds.set(guild.id, guild);
    const now = new Date().toISOString();
    guild.members.set(this.botUser.id, { userId: this.botUser.id, roles: [], nick: null, joinedAt: now });
    for (const m of input.members ?? []) this.putMember(guild, m);
    for (const [i, c] of input.channels.entries()) this.putChannel(guild, c, i);
    for (const t of input.threads ?? []) {
      this.putChannel(guild, { id: t.id, name: t.name, type: t.type ?? 11, parent_id: t.parent_id }, 0, t.owner_id);
    }
    this.gateway.dispatch("GUILD_CREATE", this.guildCreateData(guild));
  }

  /** Adds a channel to a guild after start (dispatches CHANNEL_CREATE, or THREAD_CREATE for threads). */
  addChannel(guildId: string, channel: SimChannelInput): void {
    const guild = this.requireGuild(guildId);
    const state = this.putChannel(guild, channel, guild.channelIds.length);
    const isThread = state.type === 10 || state.type === 11 || state.type === 12;
    this.gateway.dispatch(isThread ? "THREAD_CREATE" : "CHANNEL_CREATE", this.channelWire(state));
  }

  /** A thread (type 11 public by default) under `parent_id`. */
  addThread(input: { id: string; name: string; parent_id: string; type?: 11 | 12; owner_id?: string }): void {
    const parent = this.requireChannel(input.parent_id);
    if (!parent.guildId) throw new Error(`channel ${input.parent_id} is not a guild channel`);
    const guild = this.requireGuild(parent.guildId);
    const state = this.putChannel(
      guild,
      { id: input.id, name: input.name, type: input.type ?? 11, parent_id: input.parent_id },
      0,
      input.owner_id,
    );
    this.gateway.dispatch("THREAD_CREATE", { ...this.channelWire(state), newly_created: true });
  }

  /** A DM channel between the bot and `user` (no dispatch: Discord sends none to bots). */
  addDmChannel(input: { id: string; user: SimUser }): void {
    this.addUser(input.user);
    this.channels.set(input.id, this.newChannelState({ id: input.id, type: 1, name: null, guildId: null, recipients: [input.user] }));
  }

  addMember(guildId: string, member: SimGuildMemberInput): void {
    const guild = this.requireGuild(guildId);
    this.putMember(guild, member);
    this.gateway.dispatch("GUILD_MEMBER_ADD", { ...this.memberWire(guild, member.user.id), guild_id: guild.id });
  }

  /** Sets (or replaces) a permission overwrite on a channel, e.g. to deny the bot Send Messages. */
  setChannelOverwrite(channelId: string, overwrite: { id: string; type: 0 | 1; allow?: bigint; deny?: bigint }): void {
    const ch = this.requireChannel(channelId);
    ch.overwrites = ch.overwrites.filter((o) => o.id !== overwrite.id);
    ch.overwrites.push({
      id: overwrite.id,
      type: overwrite.type,
      allow: (overwrite.allow ?? 0n).toString(),
      deny: (overwrite.deny ?? 0n).toString(),
    });
    if (ch.guildId) this.gateway.dispatch(ch.type >= 10 && ch.type <= 12 ? "THREAD_UPDATE" : "CHANNEL_UPDATE", this.channelWire(ch));
  }

  /** The channel on the wire (as GET /channels/:id answers), or undefined. */
  channel(channelId: string): Json | undefined {
    const ch = this.channels.get(channelId);
    return ch ? this.channelWire(ch) : undefined;
  }

  /** Channels (threads included) of a guild. */
  guildChannels(guildId: string): Json[] {
    const g = this.requireGuild(guildId);
    return g.channelIds.map((id) => this.channelWire(this.channels.get(id)!));
  }

  // ---------------------------------------------------------------- faults and limits

  /** The next `times` requests matching method and path (without /api/vN) get this answer instead. */
  failNext(match: { method: string; path: RegExp }, response: FailResponse, times = 1): void {
    this.faults.push({ method: match.method.toUpperCase(), path: match.path, response, remaining: times });
  }

  /** A real limit for matching routes (bucket per major parameter: channel, guild, webhook): over it → 429. */
  setRouteLimit(path: RegExp, opts: RouteLimitOptions): void {
    this.limiter.setRouteLimit(path, opts);
  }

  clearRouteLimits(): void {
    this.limiter.clearRouteLimits();
  }

  /** A global requests-per-second limit (off by default): over it → 429 with `global: true`. */
  setGlobalLimit(perSecond: number | null): void {
    this.limiter.setGlobalLimit(perSecond);
  }

  /** 429s answered by real (route/global) limits, scripted ones not counted. */
  get rateLimitedCount(): number {
    return this.limiter.limitedCount;
  }

  // ---------------------------------------------------------------- gateway controls

  sendReconnect(): void {
    this.gateway.sendReconnect();
  }

  sendInvalidSession(resumable: boolean): void {
    this.gateway.sendInvalidSession(resumable);
  }

  /** Close the gateway connection(s) with a close frame; 4000 (default) makes the client resume. */
  dropConnection(code = 4000): void {
    this.gateway.dropConnection(code);
  }

  /** End the gateway connection(s) without a close frame. */
  kill(): void {
    this.gateway.kill();
  }

  /** Stop (or restart) answering heartbeats: without acks the client declares the link a zombie and resumes. */
  setHeartbeatAck(enabled: boolean): void {
    this.gateway.ackHeartbeats = enabled;
  }

  /**
   * On the next RESUME, send again a dispatch that was already delivered: a message id selects its
   * MESSAGE_CREATE (original sequence number, as a replay from a stale `seq` would); an object is sent
   * as a new dispatch. Returns how many were queued.
   */
  replayOnNextResume(what: string | { t: string; d: unknown }): number {
    if (typeof what === "string") {
      return this.gateway.queueReplay((t, d) => t === "MESSAGE_CREATE" && isObject(d) && d.id === what);
    }
    this.gateway.queueReplayPayload(what.t, what.d);
    return this.gateway.liveSessions().length;
  }

  /** Sends any dispatch to every live session. */
  dispatch(t: string, d: unknown): void {
    this.gateway.dispatch(t, d);
  }

  get identifies(): IdentifyRecord[] {
    return this.gateway.identifies;
  }

  get resumes(): ResumeRecord[] {
    return this.gateway.resumes;
  }

  get connections(): GatewayConnectionRecord[] {
    return this.gateway.connections;
  }

  /** every dispatch sent (or logged while disconnected), per session, replays included */
  get dispatches(): DispatchRecord[] {
    return this.gateway.dispatchLog;
  }

  get heartbeatCount(): number {
    return this.gateway.heartbeats;
  }

  /** true when a session is identified and its socket is up */
  get connected(): boolean {
    return this.gateway.liveSessions().some((s) => s.conn !== null);
  }

  // ---------------------------------------------------------------- user actions

  /** A user posts a message: stored in the channel and dispatched as MESSAGE_CREATE. */
  userSays(opts: UserSaysOptions): WireMessage {
    const ch = this.requireChannel(opts.channelId);
    const guildId = opts.guildId ?? ch.guildId;
    const author = this.addUser({
      id: opts.author.id,
      username: opts.author.username,
      bot: opts.author.bot ?? false,
      global_name: opts.author.global_name ?? null,
    });
    if (guildId) {
      const g = this.requireGuild(guildId);
      if (!g.members.has(author.id)) this.putMember(g, { user: author });
    }
    const botMention = new RegExp(`<@!?${this.botUser.id}>`);
    let content = opts.content;
    const mentionsBot = opts.mentionsBot ?? botMention.test(content);
    if (mentionsBot && !botMention.test(content)) content = `<@${this.botUser.id}> ${content}`;

    const mentioned = new Set<string>();
    for (const m of content.matchAll(/<@!?(\d+)>/g)) if (this.users.has(m[1]!)) mentioned.add(m[1]!);
    if (!mentionsBot) mentioned.delete(this.botUser.id);
    let reference: StoredMessage | undefined;
    if (opts.messageReference) {
      reference = this.store.get(opts.messageReference.messageId);
      if (!reference || reference.record.channelId !== ch.id)
        throw new Error(`unknown message ${opts.messageReference.messageId} in channel ${ch.id}`);
      if (opts.messageReference.ping !== false && reference.record.authorId !== author.id) mentioned.add(reference.record.authorId);
    }
    const roles = guildId
      ? [...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!).filter((r) => this.guilds.get(guildId)?.roles.some((x) => x.id === r))
      : [];
    const id = this.nextId();
    const wire = this.newWireMessage(id, ch, author, content, guildId);
    wire.mentions = [...mentioned].map((u) => this.userWireWithMember(u, guildId));
    wire.mention_roles = roles;
    wire.mention_everyone = /@(everyone|here)/.test(content);
    wire.attachments = (opts.attachments ?? []).map((a) => ({
      id: this.nextId(),
      filename: a.filename,
      size: a.size ?? 0,
      url: a.url ?? `${this.cdnBase()}/attachments/${ch.id}/${id}/${a.filename}`,
      proxy_url: a.url ?? `${this.cdnBase()}/attachments/${ch.id}/${id}/${a.filename}`,
      content_type: a.content_type ?? "application/octet-stream",
    }));
    if (reference) {
      wire.type = 19;
      wire.message_reference = { type: 0, message_id: reference.wire.id, channel_id: ch.id, ...(guildId ? { guild_id: guildId } : {}) };
    }
    this.storeMessage(wire, { allowedMentions: undefined, repliedUserPing: opts.messageReference?.ping !== false });
    this.gateway.dispatch("MESSAGE_CREATE", this.gatewayMessage(id));
    return clone(this.fullWire(id)) as WireMessage;
  }

  /** A user edits their message (MESSAGE_UPDATE). */
  userEdits(messageId: string, content: string): void {
    const m = this.requireMessage(messageId);
    this.applyEdit(m, { content }, "edit", false);
    this.gateway.dispatch("MESSAGE_UPDATE", this.gatewayMessage(messageId));
  }

  /** A user (or moderator) deletes a message (MESSAGE_DELETE). */
  userDeletes(messageId: string): void {
    const m = this.requireMessage(messageId);
    this.deleteMessage(m);
  }

  /** Dispatches INTERACTION_CREATE (slash command or component) and returns a handle on its responses. */
  interaction(opts: InteractionOptions): InteractionHandle {
    const ch = this.requireChannel(opts.channelId);
    const guildId = opts.guildId ?? ch.guildId;
    const user = this.addUser({
      id: opts.user.id,
      username: opts.user.username,
      bot: opts.user.bot ?? false,
      global_name: opts.user.global_name ?? null,
    });
    if (guildId) {
      const g = this.requireGuild(guildId);
      if (!g.members.has(user.id)) this.putMember(g, { user });
    }
    const id = this.nextId();
    const token = `aW50ZXJhY3Rpb246${id}:${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    let data: Json;
    let targetMessageId: string | null = null;
    let message: Json | undefined;
    if (opts.type === 2) {
      if (!opts.name) throw new Error("interaction type 2 needs a command name");
      const cmd =
        (guildId ? this.guildCommandSets.get(guildId)?.find((c) => c.name === opts.name) : undefined) ??
        this.commands.find((c) => c.name === opts.name);
      data = { id: cmd?.id ?? this.nextId(), name: opts.name, type: 1, ...(guildId && cmd?.guild_id ? { guild_id: guildId } : {}) };
      const options = this.commandOptions(opts.options, cmd);
      if (options.length > 0) data.options = options;
    } else {
      if (!opts.customId || !opts.messageId) throw new Error("interaction type 3 needs customId and messageId");
      const m = this.requireMessage(opts.messageId);
      targetMessageId = m.wire.id;
      message = this.fullWire(m.wire.id);
      const component = this.findComponent(m.wire.components, opts.customId);
      if (!component) throw new Error(`message ${opts.messageId} has no component with custom_id ${opts.customId}`);
      data = { custom_id: opts.customId, component_type: Number(component.type ?? 2) };
      if (opts.values) data.values = opts.values;
    }
    const payload: Json = {
      id,
      application_id: this.applicationId,
      type: opts.type,
      data,
      token,
      version: 1,
      channel: this.channelWire(ch),
      channel_id: ch.id,
      app_permissions: this.botPermissions(ch).toString(),
      locale: "en-US",
      entitlements: [],
      authorizing_integration_owners: guildId ? { "0": guildId } : { "1": user.id },
      context: guildId ? 0 : 1,
      attachment_size_limit: 10485760,
    };
    if (guildId) {
      payload.guild_id = guildId;
      payload.guild_locale = "en-US";
      payload.guild = { id: guildId, locale: "en-US", features: [] };
      payload.member = {
        ...this.memberWire(this.requireGuild(guildId), user.id),
        permissions: this.userPermissions(ch, user.id).toString(),
      };
    } else {
      payload.user = this.userWire(user.id);
    }
    if (message) payload.message = message;
    const state: InteractionState = {
      id,
      token,
      type: opts.type,
      channelId: ch.id,
      guildId,
      userId: user.id,
      payload,
      createdAt: Date.now(),
      acked: false,
      callbackType: null,
      originalMessageId: null,
      targetMessageId,
      commandName: opts.name ?? null,
    };
    this.interactions.set(id, state);
    this.gateway.dispatch("INTERACTION_CREATE", payload);
    const responses = () => this.interactionResponses.filter((r) => r.interactionId === id);
    return {
      id,
      token,
      payload: clone(payload),
      responses,
      waitForResponse: (pred = () => true, timeoutMs = 5000) =>
        this.waitFor(() => responses().find(pred), timeoutMs, `a response to interaction ${id}`),
      original: () => (state.originalMessageId ? this.message(state.originalMessageId) : undefined),
    };
  }

  // ---------------------------------------------------------------- recordings

  /** Current state of each message in the channel, oldest first (deleted ones left out unless asked). */
  messages(channelId: string, opts: { includeDeleted?: boolean; includeEphemeral?: boolean } = {}): MessageRecord[] {
    const ch = this.channels.get(channelId);
    if (!ch) return [];
    return ch.messageIds
      .map((id) => this.store.get(id)!.record)
      .filter((r) => (opts.includeDeleted || !r.deleted) && (opts.includeEphemeral !== false || !r.ephemeral))
      .map((r) => clone(r));
  }

  /** One message's current state. */
  message(messageId: string): MessageRecord | undefined {
    const m = this.store.get(messageId);
    return m ? clone(m.record) : undefined;
  }

  /** Every version of a message's content: the create, then each edit, with timestamps. */
  history(messageId: string): MessageVersion[] {
    return clone(this.store.get(messageId)?.versions ?? []);
  }

  /** Commands registered for a guild (PUT /applications/:app/guilds/:g/commands). */
  guildCommands(guildId: string): CommandRecord[] {
    return clone(this.guildCommandSets.get(guildId) ?? []);
  }

  /** Polls `predicate` every 10 ms until it returns something truthy; resolves with it, or rejects after `timeoutMs`. */
  async waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
      if (Date.now() >= deadline) throw new Error(`DiscordSimulator.waitFor: timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(10);
    }
  }

  // ================================================================ internals: world

  private cdnBase(): string {
    return `http://127.0.0.1:${this.port}/cdn`;
  }

  private requireGuild(id: string): GuildState {
    const g = this.guilds.get(id);
    if (!g) throw new Error(`unknown guild ${id}`);
    return g;
  }

  private requireChannel(id: string): ChannelState {
    const c = this.channels.get(id);
    if (!c) throw new Error(`unknown channel ${id}`);
    return c;
  }

  private requireMessage(id: string): StoredMessage {
    const m = this.store.get(id);
    if (!m) throw new Error(`unknown message ${id}`);
    return m;
  }

  private putMember(guild: GuildState, m: SimGuildMemberInput): void {
    this.addUser(m.user);
    guild.members.set(m.user.id, { userId: m.user.id, roles: m.roles ?? [], nick: m.nick ?? null, joinedAt: new Date().toISOString() });
  }

  private newChannelState(
    p: Partial<ChannelState> & { id: string; type: number; name: string | null; guildId: string | null },
  ): ChannelState {
    return {
      parentId: null,
      topic: null,
      position: 0,
      overwrites: [],
      recipients: [],
      ownerId: null,
      archived: false,
      locked: false,
      autoArchiveDuration: 1440,
      createdAt: new Date().toISOString(),
      messageIds: [],
      lastMessageId: null,
      totalMessageSent: 0,
      ...p,
    };
  }

  private putChannel(guild: GuildState, c: SimChannelInput, position: number, ownerId?: string): ChannelState {
    const isThread = c.type === 10 || c.type === 11 || c.type === 12;
    if (isThread && !c.parent_id) throw new Error(`thread ${c.id} needs parent_id`);
    const state = this.newChannelState({
      id: c.id,
      type: c.type,
      name: c.name,
      guildId: guild.id,
      parentId: c.parent_id ?? null,
      topic: c.topic ?? null,
      position,
      overwrites: c.permission_overwrites ?? [],
      ownerId: isThread ? (ownerId ?? guild.ownerId) : null,
    });
    this.channels.set(c.id, state);
    if (!guild.channelIds.includes(c.id)) guild.channelIds.push(c.id);
    return state;
  }

  private userWire(userId: string): Json {
    const u = this.users.get(userId) ?? { id: userId, username: `user${userId.slice(-4)}` };
    return {
      id: u.id,
      username: u.username,
      discriminator: "0",
      global_name: u.global_name ?? null,
      avatar: null,
      ...(u.bot ? { bot: true } : {}),
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      avatar_decoration_data: null,
    };
  }

  private memberWire(guild: GuildState, userId: string, withUser = true): Json {
    const m = guild.members.get(userId);
    return {
      ...(withUser ? { user: this.userWire(userId) } : {}),
      roles: m?.roles ?? [],
      nick: m?.nick ?? null,
      avatar: null,
      joined_at: m?.joinedAt ?? new Date().toISOString(),
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
    };
  }

  private userWireWithMember(userId: string, guildId: string | null): Json {
    const u = this.userWire(userId);
    const g = guildId ? this.guilds.get(guildId) : undefined;
    if (g?.members.has(userId)) u.member = this.memberWire(g, userId, false);
    return u;
  }

  private channelWire(ch: ChannelState): Json {
    if (ch.type === 1) {
      return { id: ch.id, type: 1, last_message_id: ch.lastMessageId, flags: 0, recipients: ch.recipients.map((u) => this.userWire(u.id)) };
    }
    const base: Json = {
      id: ch.id,
      type: ch.type,
      guild_id: ch.guildId,
      name: ch.name,
      parent_id: ch.parentId,
      last_message_id: ch.lastMessageId,
      rate_limit_per_user: 0,
      flags: 0,
    };
    if (ch.type === 10 || ch.type === 11 || ch.type === 12) {
      return {
        ...base,
        owner_id: ch.ownerId,
        message_count: ch.messageIds.length,
        member_count: 1,
        total_message_sent: ch.totalMessageSent,
        thread_metadata: {
          archived: ch.archived,
          auto_archive_duration: ch.autoArchiveDuration,
          archive_timestamp: ch.createdAt,
          locked: ch.locked,
          create_timestamp: ch.createdAt,
          ...(ch.type === 12 ? { invitable: true } : {}),
        },
        member: { id: ch.id, user_id: this.botUser.id, join_timestamp: ch.createdAt, flags: 0 },
      };
    }
    return { ...base, position: ch.position, permission_overwrites: ch.overwrites, topic: ch.topic, nsfw: false };
  }

  private roleWire(r: SimRole): Json {
    return {
      id: r.id,
      name: r.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: r.position ?? 0,
      permissions: r.permissions ?? "0",
      managed: false,
      mentionable: false,
      flags: 0,
    };
  }

  private guildCreateData(g: GuildState): Json {
    const channels = g.channelIds.map((id) => this.channels.get(id)!);
    const plain = channels.filter((c) => !(c.type === 10 || c.type === 11 || c.type === 12));
    const threads = channels.filter((c) => (c.type === 10 || c.type === 11 || c.type === 12) && !c.archived);
    const textChannel = plain.find((c) => c.type === 0);
    return {
      id: g.id,
      name: g.name,
      icon: null,
      icon_hash: null,
      splash: null,
      discovery_splash: null,
      owner_id: g.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: g.roles.map((r) => this.roleWire(r)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: textChannel?.id ?? null,
      system_channel_flags: 0,
      rules_channel_id: null,
      max_members: 500000,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: "en-US",
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
      joined_at: g.members.get(this.botUser.id)?.joinedAt ?? new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: g.members.size,
      voice_states: [],
      members: [...g.members.keys()].map((uid) => this.memberWire(g, uid)),
      channels: plain.map((c) => {
        const w = this.channelWire(c);
        delete w.guild_id; // GUILD_CREATE's channels come without guild_id
        return w;
      }),
      threads: threads.map((c) => this.channelWire(c)),
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      lazy: true,
    };
  }

  private readyData(): Json {
    return {
      v: 10,
      user: { ...this.userWire(this.botUser.id), verified: true, mfa_enabled: false, email: null },
      user_settings: {},
      relationships: [],
      private_channels: [],
      presences: [],
      guilds: [...this.guilds.keys()].map((id) => ({ id, unavailable: true })),
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      application: { id: this.applicationId, flags: 0 },
      session_type: "normal",
      _trace: ['["qwenbot-sim-gateway"]'],
    };
  }

  private membersChunk(d: Json): Json[] {
    const g = typeof d.guild_id === "string" ? this.guilds.get(d.guild_id) : undefined;
    if (!g) return [];
    const ids = Array.isArray(d.user_ids) ? (d.user_ids as string[]) : [...g.members.keys()];
    const members = ids.filter((id) => g.members.has(id)).map((id) => this.memberWire(g, id));
    return [{ guild_id: g.id, members, chunk_index: 0, chunk_count: 1, not_found: [], ...(d.nonce ? { nonce: d.nonce } : {}) }];
  }

  private botPermissions(ch: ChannelState): bigint {
    return this.userPermissions(ch, this.botUser.id);
  }

  private userPermissions(ch: ChannelState, userId: string): bigint {
    if (!ch.guildId) return ALL_PERMISSIONS;
    const g = this.guilds.get(ch.guildId);
    if (!g) return 0n;
    const permCh = (ch.type === 10 || ch.type === 11 || ch.type === 12) && ch.parentId ? (this.channels.get(ch.parentId) ?? ch) : ch;
    return computePermissions({
      guildId: g.id,
      ownerId: g.ownerId,
      userId,
      memberRoleIds: g.members.get(userId)?.roles ?? [],
      rolePermissions: new Map(g.roles.map((r) => [r.id, BigInt(r.permissions ?? "0")])),
      overwrites: permCh.overwrites,
    });
  }

  // ================================================================ internals: messages

  private newWireMessage(id: string, ch: ChannelState, author: SimUser, content: string, guildId: string | null): WireMessage {
    const wire: WireMessage = {
      id,
      channel_id: ch.id,
      ...(guildId ? { guild_id: guildId } : {}),
      author: this.userWire(author.id),
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      components: [],
      pinned: false,
      type: 0,
      flags: 0,
    };
    if (guildId) {
      const g = this.guilds.get(guildId);
      if (g?.members.has(author.id)) wire.member = this.memberWire(g, author.id, false);
    }
    if (ch.type === 11 || ch.type === 12 || ch.type === 10) wire.position = ch.totalMessageSent;
    return wire;
  }

  /** A message as MESSAGE_CREATE / MESSAGE_UPDATE carry it: the REST shape plus `channel_type`. */
  private gatewayMessage(id: string): WireMessage {
    const wire = this.fullWire(id);
    const ch = this.channels.get(wire.channel_id);
    if (ch) wire.channel_type = ch.type;
    return wire;
  }

  /** The wire object with `referenced_message` filled in, as Discord sends replies. */
  private fullWire(id: string): WireMessage {
    const m = this.store.get(id)!;
    const wire = clone(m.wire);
    const ref = wire.message_reference as Json | undefined;
    if (ref && typeof ref.message_id === "string") {
      const target = this.store.get(ref.message_id);
      wire.referenced_message = target && !target.record.deleted ? clone(target.wire) : null;
    }
    return wire;
  }

  private storeMessage(
    wire: WireMessage,
    opts: { allowedMentions: unknown; repliedUserPing: boolean; ephemeralFor?: string; interactionId?: string },
  ): StoredMessage {
    const ch = this.requireChannel(wire.channel_id);
    const flags = Number(wire.flags ?? 0);
    const now = Date.now();
    const record: MessageRecord = {
      id: wire.id,
      channelId: ch.id,
      guildId: (wire.guild_id as string | undefined) ?? null,
      authorId: String(wire.author.id),
      authorIsBot: wire.author.bot === true,
      content: wire.content,
      components: clone((wire.components as unknown[]) ?? []),
      embeds: clone((wire.embeds as unknown[]) ?? []),
      attachments: clone((wire.attachments as unknown[]) ?? []),
      flags,
      type: Number(wire.type ?? 0),
      messageReference: (wire.message_reference as MessageRecord["messageReference"]) ?? null,
      edits: 0,
      allowedMentions: clone(opts.allowedMentions),
      mentionedUserIds: ((wire.mentions as Json[]) ?? []).map((u) => String(u.id)),
      mentionEveryone: wire.mention_everyone === true,
      mentionRoleIds: clone((wire.mention_roles as string[]) ?? []),
      ephemeral: (flags & MessageFlag.Ephemeral) !== 0,
      visibleTo: opts.ephemeralFor ?? null,
      interactionId: opts.interactionId ?? null,
      deleted: false,
      threadId: null,
      createdAt: now,
      editedAt: null,
    };
    const stored: StoredMessage = { wire, record, versions: [], repliedUserPing: opts.repliedUserPing };
    stored.versions.push(this.versionOf(stored, "create", opts.allowedMentions, now));
    this.store.set(wire.id, stored);
    ch.messageIds.push(wire.id);
    if ((flags & MessageFlag.Ephemeral) === 0) {
      ch.lastMessageId = wire.id;
      ch.totalMessageSent++;
    }
    return stored;
  }

  private versionOf(m: StoredMessage, kind: "create" | "edit", allowedMentions: unknown, at: number): MessageVersion {
    return {
      kind,
      content: m.wire.content,
      components: clone((m.wire.components as unknown[]) ?? []),
      embeds: clone((m.wire.embeds as unknown[]) ?? []),
      flags: Number(m.wire.flags ?? 0),
      allowedMentions: clone(allowedMentions),
      mentionedUserIds: ((m.wire.mentions as Json[]) ?? []).map((u) => String(u.id)),
      mentionEveryone: m.wire.mention_everyone === true,
      mentionRoleIds: clone((m.wire.mention_roles as string[]) ?? []),
      at,
      timestamp: new Date(at).toISOString(),
    };
  }

  /** Applies Discord's mention rules for a message the bot sends: what `allowed_mentions` lets through. */
  private resolveBotMentions(wire: WireMessage, allowed: unknown, repliedUserPing: boolean): void {
    const content = wire.content;
    const guildId = (wire.guild_id as string | undefined) ?? null;
    const parsedUsers = [...new Set([...content.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]!))].filter((id) => this.users.has(id));
    const guild = guildId ? this.guilds.get(guildId) : undefined;
    const parsedRoles = [...new Set([...content.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!))].filter((id) =>
      guild?.roles.some((r) => r.id === id),
    );
    const everyone = /@(everyone|here)/.test(content);
    let users: string[];
    let roles: string[];
    let mentionEveryone: boolean;
    if (!isObject(allowed)) {
      users = parsedUsers;
      roles = parsedRoles;
      mentionEveryone = everyone;
    } else {
      const parse = Array.isArray(allowed.parse) ? (allowed.parse as string[]) : [];
      const allowUsers = Array.isArray(allowed.users) ? (allowed.users as string[]) : [];
      const allowRoles = Array.isArray(allowed.roles) ? (allowed.roles as string[]) : [];
      users = parse.includes("users") ? parsedUsers : parsedUsers.filter((u) => allowUsers.includes(u));
      roles = parse.includes("roles") ? parsedRoles : parsedRoles.filter((r) => allowRoles.includes(r));
      mentionEveryone = parse.includes("everyone") && everyone;
    }
    const ref = wire.message_reference as Json | undefined;
    if (ref && repliedUserPing && typeof ref.message_id === "string") {
      const target = this.store.get(ref.message_id);
      if (target && target.record.authorId !== this.botUser.id && !users.includes(target.record.authorId))
        users.push(target.record.authorId);
    }
    wire.mentions = users.map((u) => this.userWireWithMember(u, guildId));
    wire.mention_roles = roles;
    wire.mention_everyone = mentionEveryone;
  }

  private applyEdit(m: StoredMessage, body: Json, kind: "edit", byBot: boolean): void {
    const wire = m.wire;
    if (typeof body.content === "string" || body.content === null) wire.content = (body.content as string | null) ?? "";
    if (Array.isArray(body.embeds) || body.embeds === null) wire.embeds = clone((body.embeds as unknown[] | null) ?? []);
    if (Array.isArray(body.components) || body.components === null) wire.components = clone((body.components as unknown[] | null) ?? []);
    if (typeof body.flags === "number") {
      // only SUPPRESS_EMBEDS can be toggled by an edit; loading goes away once the response is edited
      const keep = Number(wire.flags ?? 0) & ~(4 | MessageFlag.Loading);
      wire.flags = keep | (body.flags & 4);
    } else {
      wire.flags = Number(wire.flags ?? 0) & ~MessageFlag.Loading;
    }
    if (Array.isArray(body.attachments)) {
      const keepIds = new Set((body.attachments as Json[]).map((a) => String(a.id)));
      wire.attachments = ((wire.attachments as Json[]) ?? []).filter((a) => keepIds.has(String(a.id)));
    }
    const now = Date.now();
    const wasLoading = (m.record.flags & MessageFlag.Loading) !== 0;
    if (!wasLoading) wire.edited_timestamp = new Date(now).toISOString();
    if (byBot) {
      const allowed = "allowed_mentions" in body ? body.allowed_mentions : undefined;
      const repliedUserPing = "allowed_mentions" in body ? isObject(allowed) && allowed.replied_user === true : m.repliedUserPing;
      this.resolveBotMentions(wire, allowed, repliedUserPing);
      m.record.allowedMentions = clone(allowed);
    } else {
      const mentioned = [...wire.content.matchAll(/<@!?(\d+)>/g)].map((x) => x[1]!).filter((id) => this.users.has(id));
      wire.mentions = [...new Set(mentioned)].map((u) => this.userWireWithMember(u, (wire.guild_id as string | undefined) ?? null));
    }
    const r = m.record;
    r.content = wire.content;
    r.components = clone(wire.components as unknown[]);
    r.embeds = clone(wire.embeds as unknown[]);
    r.attachments = clone(wire.attachments as unknown[]);
    r.flags = Number(wire.flags);
    r.edits++;
    r.editedAt = now;
    r.mentionedUserIds = ((wire.mentions as Json[]) ?? []).map((u) => String(u.id));
    r.mentionEveryone = wire.mention_everyone === true;
    r.mentionRoleIds = clone((wire.mention_roles as string[]) ?? []);
    m.versions.push(this.versionOf(m, kind, byBot ? body.allowed_mentions : undefined, now));
  }

  private deleteMessage(m: StoredMessage): void {
    m.record.deleted = true;
    if (!m.record.ephemeral) {
      this.gateway.dispatch("MESSAGE_DELETE", {
        id: m.wire.id,
        channel_id: m.wire.channel_id,
        ...(m.wire.guild_id ? { guild_id: m.wire.guild_id } : {}),
      });
    }
  }

  private findComponent(components: unknown, customId: string): Json | undefined {
    if (!Array.isArray(components)) return undefined;
    for (const c of components) {
      if (!isObject(c)) continue;
      if (c.custom_id === customId) return c;
      const inner =
        this.findComponent(c.components, customId) ??
        (isObject(c.accessory) && c.accessory.custom_id === customId ? c.accessory : undefined);
      if (inner) return inner;
    }
    return undefined;
  }

  private commandOptions(options: InteractionOptions["options"], cmd: CommandRecord | undefined): unknown[] {
    if (!options) return [];
    if (Array.isArray(options)) return clone(options);
    const declared = Array.isArray(cmd?.options) ? (cmd.options as Json[]) : [];
    return Object.entries(options).map(([name, value]) => {
      const decl = declared.find((o) => o.name === name);
      let type = typeof decl?.type === "number" ? decl.type : 3;
      if (!decl) {
        if (typeof value === "boolean") type = 5;
        else if (typeof value === "number") type = Number.isInteger(value) ? 4 : 10;
      }
      return { name, type, value };
    });
  }

  // ================================================================ internals: gateway view

  /** What one session receives: intent filtering, and Message Content emulation. */
  private viewFor(session: GatewaySession, t: string, d: unknown): unknown | null {
    const intents = session.intents;
    const data = isObject(d) ? d : {};
    const inGuild = typeof data.guild_id === "string";
    switch (t) {
      case "MESSAGE_CREATE":
      case "MESSAGE_UPDATE":
      case "MESSAGE_DELETE":
      case "MESSAGE_DELETE_BULK": {
        const need = inGuild ? Intent.GuildMessages : Intent.DirectMessages;
        if ((intents & need) === 0) return null;
        if (t === "MESSAGE_CREATE" || t === "MESSAGE_UPDATE") return this.contentView(session, data);
        return d;
      }
      case "MESSAGE_REACTION_ADD":
      case "MESSAGE_REACTION_REMOVE":
        return (intents & (inGuild ? Intent.GuildMessageReactions : Intent.DirectMessageReactions)) !== 0 ? d : null;
      case "TYPING_START":
        return (intents & (inGuild ? Intent.GuildMessageTyping : Intent.DirectMessageTyping)) !== 0 ? d : null;
      case "CHANNEL_CREATE":
      case "CHANNEL_UPDATE":
      case "CHANNEL_DELETE":
      case "THREAD_CREATE":
      case "THREAD_UPDATE":
      case "THREAD_DELETE":
      case "GUILD_UPDATE":
      case "GUILD_DELETE":
      case "GUILD_ROLE_CREATE":
      case "GUILD_ROLE_UPDATE":
      case "GUILD_ROLE_DELETE":
        return (intents & Intent.Guilds) !== 0 ? d : null;
      case "GUILD_MEMBER_ADD":
      case "GUILD_MEMBER_UPDATE":
      case "GUILD_MEMBER_REMOVE":
        return (intents & Intent.GuildMembers) !== 0 ? d : null;
      default:
        return d;
    }
  }

  /** Without the Message Content intent, guild messages that neither mention the bot nor are its own come without content. */
  private contentView(session: GatewaySession, d: Json): Json {
    if ((session.intents & Intent.MessageContent) !== 0) return d;
    const out = clone(d);
    const blank = (m: Json) => {
      if (typeof m.guild_id !== "string" && typeof d.guild_id !== "string") return; // DMs keep content
      const author = isObject(m.author) ? m.author : {};
      if (author.id === this.botUser.id) return;
      const mentions = Array.isArray(m.mentions) ? (m.mentions as Json[]) : [];
      if (mentions.some((u) => u.id === this.botUser.id)) return;
      if ("content" in m) m.content = "";
      if ("embeds" in m) m.embeds = [];
      if ("attachments" in m) m.attachments = [];
      if ("components" in m) m.components = [];
      if ("poll" in m) delete m.poll;
    };
    blank(out);
    if (isObject(out.referenced_message)) blank(out.referenced_message);
    return out;
  }

  // ================================================================ internals: REST

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    let path = url.pathname;
    if (path.startsWith("/api/")) path = path.slice(4);
    path = path.replace(/^\/v\d+(?=\/)/, "");
    if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    const method = (req.method ?? "GET").toUpperCase();
    const time = Date.now();
    let parsed: ParsedRequest;
    try {
      parsed = await this.parseBody(method, path, url.searchParams, req.headers, raw);
    } catch {
      this.finish(
        res,
        { method, path, query: url.search, status: 400, time, body: raw.toString("utf8"), auth: null, scripted: false },
        {
          status: 400,
          body: { message: "400: Bad Request", code: 0 },
        },
      );
      return;
    }
    const record: RequestRecord = {
      method,
      path,
      query: url.search,
      status: 0,
      time,
      body: parsed.body,
      auth: parsed.auth,
      scripted: false,
    };
    if (parsed.files.length > 0) record.body = { ...(isObject(parsed.body) ? parsed.body : { payload: parsed.body }), files: parsed.files };

    const needsAuth = !path.startsWith("/interactions/") && !path.startsWith("/webhooks/") && path !== "/gateway";
    if (needsAuth && !this.authOk(parsed.auth)) {
      this.finish(res, record, errorReply(Errors.unauthorized()));
      return;
    }

    const fault = this.faults.find((f) => f.remaining > 0 && f.method === method && f.path.test(path));
    if (fault) {
      fault.remaining--;
      record.scripted = true;
      this.finish(res, record, this.scriptedReply(method, path, fault.response));
      return;
    }

    const take = this.limiter.take(method, path);
    if (take.limited) {
      const global = take.scope === "global";
      this.finish(res, record, {
        status: 429,
        body: { message: "You are being rate limited.", retry_after: Number(take.retryAfterSec.toFixed(3)), global },
        headers: {
          ...take.headers,
          "Retry-After": String(take.retryAfterSec),
          "X-RateLimit-Scope": global ? "global" : "user",
          ...(global ? { "X-RateLimit-Global": "true" } : {}),
        },
      });
      return;
    }

    let reply: Reply;
    const route = this.matchRoute(method, path);
    if (!route) {
      this.unhandled.push({ method, path });
      reply = errorReply(this.routes.some((r) => r.re.test(path)) ? Errors.methodNotAllowed() : Errors.notFound());
    } else {
      try {
        reply = await route.handler(parsed, route.params);
      } catch (e) {
        reply = { status: 500, body: { message: `500: Internal Server Error (simulator: ${(e as Error).message})`, code: 0 } };
      }
    }
    reply.headers = { ...take.headers, ...reply.headers };
    this.finish(res, record, reply);
  }

  private finish(res: http.ServerResponse, record: RequestRecord, reply: Reply): void {
    record.status = reply.status;
    this.requests.push(record);
    const headers: Record<string, string> = { ...reply.headers };
    if (!headers["X-RateLimit-Bucket"] && reply.status !== 429) {
      Object.assign(headers, this.limiter.scriptedHeaders(record.method, record.path, 0));
      headers["X-RateLimit-Remaining"] = headers["X-RateLimit-Limit"]!;
    }
    if (reply.status === 204 || reply.body === undefined) {
      res.writeHead(reply.status === 200 ? 204 : reply.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    headers["Content-Type"] = "application/json";
    headers["Content-Length"] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(text);
  }

  private scriptedReply(method: string, path: string, r: FailResponse): Reply {
    if (r.status === 429) {
      const global = r.global === true;
      const scope = r.scope ?? (global ? "global" : "user");
      return {
        status: 429,
        body: { message: "You are being rate limited.", retry_after: r.retryAfterSec, global, ...(global ? { code: 0 } : {}) },
        headers: {
          ...this.limiter.scriptedHeaders(method, path, r.retryAfterSec),
          "Retry-After": String(r.retryAfterSec),
          "X-RateLimit-Scope": scope,
          ...(global ? { "X-RateLimit-Global": "true" } : {}),
        },
      };
    }
    if ("code" in r) return { status: r.status, body: { message: r.message, code: r.code } };
    const text: Record<number, string> = {
      500: "Internal Server Error",
      502: "Bad Gateway",
      503: "Service Unavailable",
      504: "Gateway Timeout",
    };
    return { status: r.status, body: { message: `${r.status}: ${text[r.status] ?? "Server Error"}`, code: 0 } };
  }

  private authOk(auth: string | null): boolean {
    if (!auth) return false;
    if (this.token !== undefined) return auth === `Bot ${this.token}`;
    return /^Bot \S+/.test(auth);
  }

  private async parseBody(
    method: string,
    path: string,
    query: URLSearchParams,
    headers: http.IncomingHttpHeaders,
    raw: Buffer,
  ): Promise<ParsedRequest> {
    const auth = typeof headers.authorization === "string" ? headers.authorization : null;
    const ct = String(headers["content-type"] ?? "");
    const out: ParsedRequest = { method, path, query, body: null, files: [], auth };
    if (raw.length === 0) return out;
    if (ct.startsWith("multipart/form-data")) {
      const form = await new Request("http://sim.local/", { method: "POST", headers: { "content-type": ct }, body: raw }).formData();
      for (const [name, value] of form.entries()) {
        if (typeof value === "string") {
          if (name === "payload_json") out.body = JSON.parse(value) as Json;
        } else {
          out.files.push({ name, filename: value.name, size: value.size, contentType: value.type || "application/octet-stream" });
        }
      }
      return out;
    }
    out.body = JSON.parse(raw.toString("utf8")) as Json;
    return out;
  }

  private matchRoute(method: string, path: string): { handler: Handler; params: string[] } | null {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.re.exec(path);
      if (m) return { handler: r.handler, params: m.slice(1).map((x) => decodeURIComponent(x ?? "")) };
    }
    return null;
  }

  private route(method: string, pattern: string, handler: Handler): void {
    const re = new RegExp(`^${pattern.replace(/:[a-z]+/g, "([^/]+)")}$`);
    this.routes.push({ method, re, handler });
  }

  private defineRoutes(): void {
    const json = (body: unknown, status = 200): Reply => ({ status, body });
    const gatewayInfo = () => ({ url: this.gatewayUrl });
    this.route("GET", "/gateway", () => json(gatewayInfo()));
    this.route("GET", "/gateway/bot", () =>
      json({
        ...gatewayInfo(),
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      }),
    );
    this.route("GET", "/users/@me", () =>
      json({ ...this.userWire(this.botUser.id), verified: true, mfa_enabled: false, locale: "en-US", email: null }),
    );
    this.route("GET", "/users/:id", (_r, [id]) => (this.users.has(id!) ? json(this.userWire(id!)) : errorReply(Errors.unknownUser())));
    this.route("POST", "/users/@me/channels", (r) => this.openDm(r));
    const application = () => this.applicationWire();
    this.route("GET", "/applications/@me", () => json(application()));
    this.route("GET", "/oauth2/applications/@me", () => json(application()));

    this.route("GET", "/applications/:app/commands", (_r, [app]) => this.withApp(app!, () => json(this.commands)));
    this.route("PUT", "/applications/:app/commands", (r, [app]) => this.withApp(app!, () => this.putCommands(r, null)));
    this.route("POST", "/applications/:app/commands", (r, [app]) => this.withApp(app!, () => this.postCommand(r, null)));
    this.route("DELETE", "/applications/:app/commands/:id", (_r, [app, id]) => this.withApp(app!, () => this.deleteCommand(null, id!)));
    this.route("GET", "/applications/:app/guilds/:guild/commands", (_r, [app, g]) =>
      this.withApp(app!, () => json(this.guildCommandSets.get(g!) ?? [])),
    );
    this.route("PUT", "/applications/:app/guilds/:guild/commands", (r, [app, g]) => this.withApp(app!, () => this.putCommands(r, g!)));
    this.route("POST", "/applications/:app/guilds/:guild/commands", (r, [app, g]) => this.withApp(app!, () => this.postCommand(r, g!)));
    this.route("DELETE", "/applications/:app/guilds/:guild/commands/:id", (_r, [app, g, id]) =>
      this.withApp(app!, () => this.deleteCommand(g!, id!)),
    );

    this.route("GET", "/guilds/:guild", (_r, [g]) => {
      const guild = this.guilds.get(g!);
      if (!guild) return errorReply(Errors.unknownGuild());
      const { channels: _c, threads: _t, members: _m, presences: _p, voice_states: _v, ...rest } = this.guildCreateData(guild);
      return json(rest);
    });
    this.route("GET", "/guilds/:guild/channels", (_r, [g]) =>
      this.guilds.has(g!)
        ? json(this.guildChannels(g!).filter((c) => !(Number(c.type) >= 10 && Number(c.type) <= 12)))
        : errorReply(Errors.unknownGuild()),
    );
    this.route("GET", "/guilds/:guild/roles", (_r, [g]) => {
      const guild = this.guilds.get(g!);
      return guild ? json(guild.roles.map((r) => this.roleWire(r))) : errorReply(Errors.unknownGuild());
    });
    this.route("GET", "/guilds/:guild/members/:user", (_r, [g, u]) => {
      const guild = this.guilds.get(g!);
      if (!guild) return errorReply(Errors.unknownGuild());
      return guild.members.has(u!) ? json(this.memberWire(guild, u!)) : errorReply(apiError(404, 10007, "Unknown Member"));
    });
    this.route("GET", "/guilds/:guild/threads/active", (_r, [g]) => {
      if (!this.guilds.has(g!)) return errorReply(Errors.unknownGuild());
      const threads = this.guildChannels(g!).filter((c) => Number(c.type) >= 10 && Number(c.type) <= 12);
      return json({ threads, members: threads.map((t) => t.member) });
    });

    this.route("GET", "/channels/:channel", (_r, [c]) => {
      const ch = this.channels.get(c!);
      if (!ch) return errorReply(Errors.unknownChannel());
      if ((this.botPermissions(ch) & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
      return json(this.channelWire(ch));
    });
    this.route("GET", "/channels/:channel/messages", (r, [c]) => this.listMessages(r, c!));
    this.route("POST", "/channels/:channel/messages", (r, [c]) => this.createMessage(r, c!));
    this.route("GET", "/channels/:channel/messages/:message", (_r, [c, m]) => this.getMessage(c!, m!));
    this.route("PATCH", "/channels/:channel/messages/:message", (r, [c, m]) => this.editMessage(r, c!, m!));
    this.route("DELETE", "/channels/:channel/messages/:message", (_r, [c, m]) => this.removeMessage(c!, m!));
    this.route("POST", "/channels/:channel/typing", (_r, [c]) => {
      const ch = this.channels.get(c!);
      if (!ch) return errorReply(Errors.unknownChannel());
      const denied = this.checkSend(ch);
      if (denied) return errorReply(denied);
      this.typing.push({ channelId: ch.id, time: Date.now() });
      return { status: 204 };
    });
    this.route("PUT", "/channels/:channel/messages/:message/reactions/:emoji/@me", (_r, [c, m, e]) => {
      const msg = this.store.get(m!);
      if (!this.channels.has(c!)) return errorReply(Errors.unknownChannel());
      if (!msg || msg.record.channelId !== c || msg.record.deleted) return errorReply(Errors.unknownMessage());
      this.reactions.push({ channelId: c!, messageId: m!, emoji: e!, time: Date.now() });
      return { status: 204 };
    });
    this.route("DELETE", "/channels/:channel/messages/:message/reactions/:emoji/@me", () => ({ status: 204 }));
    this.route("POST", "/channels/:channel/messages/:message/threads", (r, [c, m]) => this.startThread(r, c!, m!));
    this.route("POST", "/channels/:channel/threads", (r, [c]) => this.startThread(r, c!, null));
    this.route("PUT", "/channels/:channel/thread-members/@me", (_r, [c]) =>
      this.channels.has(c!) ? { status: 204 } : errorReply(Errors.unknownChannel()),
    );

    this.route("POST", "/interactions/:id/:token/callback", (r, [id, token]) => this.interactionCallback(r, id!, token!));
    this.route("POST", "/webhooks/:app/:token", (r, [app, token]) => this.webhookFollowup(r, app!, token!));
    this.route("GET", "/webhooks/:app/:token/messages/:message", (_r, [app, token, m]) =>
      this.webhookMessage("GET", null, app!, token!, m!),
    );
    this.route("PATCH", "/webhooks/:app/:token/messages/:message", (r, [app, token, m]) =>
      this.webhookMessage("PATCH", r, app!, token!, m!),
    );
    this.route("DELETE", "/webhooks/:app/:token/messages/:message", (_r, [app, token, m]) =>
      this.webhookMessage("DELETE", null, app!, token!, m!),
    );
  }

  private applicationWire(): Json {
    return {
      id: this.applicationId,
      name: this.botUser.username,
      icon: null,
      description: "",
      summary: "",
      type: null,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: "0".repeat(64),
      flags: 0,
      team: null,
      owner: {
        id: "100000000000000000",
        username: "owner",
        discriminator: "0",
        global_name: null,
        avatar: null,
        public_flags: 0,
        flags: 0,
      },
      bot: this.userWire(this.botUser.id),
      approximate_guild_count: this.guilds.size,
      redirect_uris: [],
      interactions_endpoint_url: null,
      tags: [],
      integration_types_config: { "0": {} },
    };
  }

  private withApp(app: string, f: () => Reply): Reply {
    if (app !== this.applicationId) return errorReply(Errors.unknownApplication());
    return f();
  }

  // ---- commands

  private validateCommand(c: unknown, index: number | null): { command?: CommandRecord; error?: ApiErrorResponse } {
    const at = (k: string) => (index === null ? [k] : [index, k]);
    if (!isObject(c))
      return { error: invalidFormBody(index === null ? [] : [index], "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType") };
    const type = typeof c.type === "number" ? c.type : 1;
    const name = typeof c.name === "string" ? c.name : "";
    if (!name || name.length > 32)
      return { error: invalidFormBody(at("name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.") };
    if (type === 1 && !/^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u.test(name))
      return { error: invalidFormBody(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
    if (type === 1 && name !== name.toLowerCase())
      return { error: invalidFormBody(at("name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
    const description = typeof c.description === "string" ? c.description : "";
    if (type === 1 && (description.length < 1 || description.length > 100))
      return { error: invalidFormBody(at("description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.") };
    const options = Array.isArray(c.options) ? (c.options as Json[]) : [];
    let seenOptional = false;
    for (const [i, o] of options.entries()) {
      const oname = typeof o.name === "string" ? o.name : "";
      if (!oname || oname.length > 32 || oname !== oname.toLowerCase())
        return { error: invalidFormBody([...at("options"), i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid") };
      const od = typeof o.description === "string" ? o.description : "";
      if (od.length < 1 || od.length > 100)
        return {
          error: invalidFormBody([...at("options"), i, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."),
        };
      if (o.required === true && seenOptional)
        return {
          error: invalidFormBody(
            [...at("options"), i],
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
            "Required options must be placed before non-required options",
          ),
        };
      if (o.required !== true) seenOptional = true;
    }
    const command: CommandRecord = {
      default_member_permissions: null,
      nsfw: false,
      ...clone(c),
      id: "",
      application_id: this.applicationId,
      version: this.nextId(),
      name,
      description,
      type,
    } as CommandRecord;
    return { command };
  }

  private putCommands(r: ParsedRequest, guildId: string | null): Reply {
    if (guildId && !this.guilds.has(guildId)) return errorReply(apiError(403, 50001, "Missing Access"));
    if (!Array.isArray(r.body)) return errorReply(invalidFormBody([], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"));
    if (r.body.length > 100) return errorReply(invalidFormBody([], "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."));
    const existing = guildId ? (this.guildCommandSets.get(guildId) ?? []) : this.commands;
    const out: CommandRecord[] = [];
    const names = new Set<string>();
    for (const [i, c] of r.body.entries()) {
      const { command, error } = this.validateCommand(c, i);
      if (error) return errorReply(error);
      const key = `${command!.type}:${command!.name}`;
      if (names.has(key))
        return errorReply(invalidFormBody([i, "name"], "APPLICATION_COMMANDS_DUPLICATE_NAME", `Application command names must be unique`));
      names.add(key);
      command!.id = existing.find((e) => e.name === command!.name && e.type === command!.type)?.id ?? this.nextId();
      if (guildId) command!.guild_id = guildId;
      out.push(command!);
    }
    if (guildId) this.guildCommandSets.set(guildId, out);
    else this.commands = out;
    return { status: 200, body: out };
  }

  private postCommand(r: ParsedRequest, guildId: string | null): Reply {
    if (guildId && !this.guilds.has(guildId)) return errorReply(apiError(403, 50001, "Missing Access"));
    const { command, error } = this.validateCommand(r.body, null);
    if (error) return errorReply(error);
    const list = guildId ? (this.guildCommandSets.get(guildId) ?? []) : this.commands;
    const prior = list.find((e) => e.name === command!.name && e.type === command!.type);
    command!.id = prior?.id ?? this.nextId();
    if (guildId) command!.guild_id = guildId;
    const next = [...list.filter((e) => e !== prior), command!];
    if (guildId) this.guildCommandSets.set(guildId, next);
    else this.commands = next;
    return { status: prior ? 200 : 201, body: command };
  }

  private deleteCommand(guildId: string | null, id: string): Reply {
    const list = guildId ? (this.guildCommandSets.get(guildId) ?? []) : this.commands;
    if (!list.some((c) => c.id === id)) return errorReply(apiError(404, 10063, "Unknown application command"));
    const next = list.filter((c) => c.id !== id);
    if (guildId) this.guildCommandSets.set(guildId, next);
    else this.commands = next;
    return { status: 204 };
  }

  // ---- channels and messages

  private openDm(r: ParsedRequest): Reply {
    const recipient = isObject(r.body) && typeof r.body.recipient_id === "string" ? r.body.recipient_id : "";
    if (!this.users.has(recipient)) return errorReply(invalidFormBody(["recipient_id"], "USER_DOES_NOT_EXIST", "Unknown User"));
    let ch = [...this.channels.values()].find((c) => c.type === 1 && c.recipients.some((u) => u.id === recipient));
    if (!ch) {
      ch = this.newChannelState({ id: this.nextId(), type: 1, name: null, guildId: null, recipients: [this.users.get(recipient)!] });
      this.channels.set(ch.id, ch);
    }
    return { status: 200, body: this.channelWire(ch) };
  }

  private checkSend(ch: ChannelState): ApiErrorResponse | null {
    if (!ch.guildId) return null;
    const perms = this.botPermissions(ch);
    if ((perms & Permission.ViewChannel) === 0n) return Errors.missingAccess();
    const isThread = ch.type === 10 || ch.type === 11 || ch.type === 12;
    if ((perms & (isThread ? Permission.SendMessagesInThreads : Permission.SendMessages)) === 0n) return Errors.missingPermissions();
    if (isThread && ch.locked && (perms & Permission.ManageThreads) === 0n) return Errors.missingPermissions();
    return null;
  }

  private listMessages(r: ParsedRequest, channelId: string): Reply {
    const ch = this.channels.get(channelId);
    if (!ch) return errorReply(Errors.unknownChannel());
    const perms = this.botPermissions(ch);
    if ((perms & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
    if ((perms & Permission.ReadMessageHistory) === 0n) return { status: 200, body: [] };
    const limit = Math.min(100, Math.max(1, Number(r.query.get("limit") ?? 50)));
    let ids = ch.messageIds.filter((id) => {
      const m = this.store.get(id)!;
      return !m.record.deleted && !m.record.ephemeral;
    });
    const before = r.query.get("before");
    const after = r.query.get("after");
    if (before) ids = ids.filter((id) => BigInt(id) < BigInt(before));
    if (after) ids = ids.filter((id) => BigInt(id) > BigInt(after));
    const picked = after ? ids.slice(0, limit) : ids.slice(-limit);
    return { status: 200, body: picked.reverse().map((id) => this.fullWire(id)) };
  }

  private getMessage(channelId: string, messageId: string): Reply {
    const ch = this.channels.get(channelId);
    if (!ch) return errorReply(Errors.unknownChannel());
    const perms = this.botPermissions(ch);
    if ((perms & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
    if ((perms & Permission.ReadMessageHistory) === 0n) return errorReply(Errors.missingPermissions());
    const m = this.store.get(messageId);
    if (!m || m.record.channelId !== channelId || m.record.deleted || m.record.ephemeral) return errorReply(Errors.unknownMessage());
    return { status: 200, body: this.fullWire(messageId) };
  }

  private attachmentsFrom(r: ParsedRequest, channelId: string, messageId: string): Json[] {
    return r.files.map((f) => ({
      id: this.nextId(),
      filename: f.filename,
      size: f.size,
      url: `${this.cdnBase()}/attachments/${channelId}/${messageId}/${f.filename}`,
      proxy_url: `${this.cdnBase()}/attachments/${channelId}/${messageId}/${f.filename}`,
      content_type: f.contentType,
    }));
  }

  /** Builds, stores and dispatches a message the bot (or its interaction webhook) sends. */
  private botMessage(
    ch: ChannelState,
    body: Json,
    r: ParsedRequest,
    extra: { interaction?: InteractionState; type?: number; flags?: number; reference?: StoredMessage } = {},
  ): StoredMessage {
    const id = this.nextId();
    const wire = this.newWireMessage(
      id,
      ch,
      this.users.get(this.botUser.id)!,
      typeof body.content === "string" ? body.content : "",
      ch.guildId,
    );
    wire.embeds = clone(Array.isArray(body.embeds) ? body.embeds : []);
    wire.components = clone(Array.isArray(body.components) ? body.components : []);
    wire.tts = body.tts === true;
    wire.attachments = this.attachmentsFrom(r, ch.id, id);
    const allowedFlags = 4 | 4096 | (1 << 15) | (extra.interaction ? MessageFlag.Ephemeral : 0);
    wire.flags = (typeof body.flags === "number" ? body.flags & allowedFlags : 0) | (extra.flags ?? 0);
    if (typeof body.nonce === "string" || typeof body.nonce === "number") wire.nonce = body.nonce;
    wire.type = extra.type ?? 0;
    if (extra.reference) {
      wire.type = 19;
      wire.message_reference = {
        type: 0,
        message_id: extra.reference.wire.id,
        channel_id: ch.id,
        ...(ch.guildId ? { guild_id: ch.guildId } : {}),
      };
    }
    const it = extra.interaction;
    if (it) {
      wire.webhook_id = this.applicationId;
      wire.application_id = this.applicationId;
      const user = this.userWire(it.userId);
      wire.interaction_metadata = {
        id: it.id,
        type: it.type,
        user,
        authorizing_integration_owners: it.payload.authorizing_integration_owners,
        ...(it.type === 2 ? { name: it.commandName, command_type: 1 } : { interacted_message_id: it.targetMessageId }),
      };
      if (it.type === 2) wire.interaction = { id: it.id, type: 2, name: it.commandName, user };
    }
    const allowed = "allowed_mentions" in body ? body.allowed_mentions : undefined;
    let repliedUserPing = extra.reference !== undefined;
    if (allowed !== undefined) repliedUserPing = isObject(allowed) && allowed.replied_user === true;
    this.resolveBotMentions(wire, allowed, repliedUserPing);
    const ephemeral = ((wire.flags as number) & MessageFlag.Ephemeral) !== 0;
    const stored = this.storeMessage(wire, {
      allowedMentions: allowed,
      repliedUserPing,
      ...(ephemeral && it ? { ephemeralFor: it.userId } : {}),
      ...(it ? { interactionId: it.id } : {}),
    });
    if (!ephemeral) this.gateway.dispatch("MESSAGE_CREATE", this.gatewayMessage(id));
    return stored;
  }

  private createMessage(r: ParsedRequest, channelId: string): Reply {
    const ch = this.channels.get(channelId);
    if (!ch) return errorReply(Errors.unknownChannel());
    if (ch.type === 2 || ch.type === 4) return errorReply(apiError(400, 50008, "Cannot send messages in a non-text channel"));
    const denied = this.checkSend(ch);
    if (denied) return errorReply(denied);
    const body = isObject(r.body) ? r.body : {};
    const invalid = validateMessageBody(body, { mode: "create", fileCount: r.files.length });
    if (invalid) return errorReply(invalid);
    let reference: StoredMessage | undefined;
    const ref = body.message_reference;
    if (isObject(ref) && ref.type !== 1) {
      if ((this.botPermissions(ch) & Permission.ReadMessageHistory) === 0n) return errorReply(Errors.missingPermissions());
      const target = typeof ref.message_id === "string" ? this.store.get(ref.message_id) : undefined;
      const sameChannel = target && !target.record.deleted && !target.record.ephemeral && target.record.channelId === ch.id;
      const refChannelOk = ref.channel_id === undefined || ref.channel_id === ch.id;
      if (!sameChannel || !refChannelOk) {
        if (ref.fail_if_not_exists === false) reference = undefined;
        else return errorReply(invalidFormBody(["message_reference"], "REPLIES_UNKNOWN_MESSAGE", "Unknown message"));
      } else {
        reference = target;
      }
    }
    const stored = this.botMessage(ch, body, r, reference ? { reference } : {});
    return { status: 200, body: this.fullWire(stored.wire.id) };
  }

  private editMessage(r: ParsedRequest, channelId: string, messageId: string): Reply {
    const ch = this.channels.get(channelId);
    if (!ch) return errorReply(Errors.unknownChannel());
    if (ch.guildId && (this.botPermissions(ch) & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
    const m = this.store.get(messageId);
    if (!m || m.record.channelId !== channelId || m.record.deleted || m.record.ephemeral) return errorReply(Errors.unknownMessage());
    const body = isObject(r.body) ? r.body : {};
    if (m.record.authorId !== this.botUser.id) {
      const onlyFlags = Object.keys(body).every((k) => k === "flags");
      if (!onlyFlags) return errorReply(Errors.cannotEditOthers());
    }
    return this.applyBotEdit(m, body, r);
  }

  private applyBotEdit(m: StoredMessage, body: Json, r: ParsedRequest): Reply {
    const invalid = validateMessageBody(body, { mode: "edit", fileCount: r.files.length });
    if (invalid) return errorReply(invalid);
    const nextContent = "content" in body ? ((body.content as string | null) ?? "") : m.wire.content;
    const nextEmbeds = "embeds" in body ? ((body.embeds as unknown[] | null) ?? []) : (m.wire.embeds as unknown[]);
    const nextComponents = "components" in body ? ((body.components as unknown[] | null) ?? []) : (m.wire.components as unknown[]);
    const keptAttachments = Array.isArray(body.attachments) ? body.attachments.length : ((m.wire.attachments as unknown[]) ?? []).length;
    if (!nextContent && nextEmbeds.length === 0 && nextComponents.length === 0 && keptAttachments === 0 && r.files.length === 0) {
      return errorReply(Errors.emptyMessage());
    }
    this.applyEdit(m, body, "edit", true);
    if (r.files.length > 0) {
      const added = this.attachmentsFrom(r, m.record.channelId, m.wire.id);
      m.wire.attachments = [...((m.wire.attachments as Json[]) ?? []), ...added];
      m.record.attachments = clone(m.wire.attachments as unknown[]);
    }
    if (!m.record.ephemeral) this.gateway.dispatch("MESSAGE_UPDATE", this.gatewayMessage(m.wire.id));
    return { status: 200, body: this.fullWire(m.wire.id) };
  }

  private removeMessage(channelId: string, messageId: string): Reply {
    const ch = this.channels.get(channelId);
    if (!ch) return errorReply(Errors.unknownChannel());
    const m = this.store.get(messageId);
    if (!m || m.record.channelId !== channelId || m.record.deleted || m.record.ephemeral) return errorReply(Errors.unknownMessage());
    if (m.record.authorId !== this.botUser.id && (this.botPermissions(ch) & Permission.ManageMessages) === 0n)
      return errorReply(Errors.missingPermissions());
    this.deleteMessage(m);
    return { status: 204 };
  }

  private startThread(r: ParsedRequest, channelId: string, messageId: string | null): Reply {
    const parent = this.channels.get(channelId);
    if (!parent) return errorReply(Errors.unknownChannel());
    if (!parent.guildId || !(parent.type === 0 || parent.type === 5))
      return errorReply(apiError(400, 50024, "Cannot execute action on this channel type"));
    const body = isObject(r.body) ? r.body : {};
    const name = typeof body.name === "string" ? body.name : "";
    if (name.length < 1 || name.length > 100)
      return errorReply(invalidFormBody(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
    const auto = body.auto_archive_duration;
    if (auto !== undefined && ![60, 1440, 4320, 10080].includes(Number(auto)))
      return errorReply(invalidFormBody(["auto_archive_duration"], "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."));
    let type = messageId ? (parent.type === 5 ? 10 : 11) : typeof body.type === "number" ? body.type : 12;
    if (!messageId && ![10, 11, 12].includes(type))
      return errorReply(invalidFormBody(["type"], "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}."));
    if (!messageId && parent.type === 5) type = 10;
    const perms = this.botPermissions(parent);
    if ((perms & Permission.ViewChannel) === 0n) return errorReply(Errors.missingAccess());
    if ((perms & (type === 12 ? Permission.CreatePrivateThreads : Permission.CreatePublicThreads)) === 0n)
      return errorReply(Errors.missingPermissions());
    let starter: StoredMessage | undefined;
    if (messageId) {
      starter = this.store.get(messageId);
      if (!starter || starter.record.channelId !== channelId || starter.record.deleted || starter.record.ephemeral)
        return errorReply(Errors.unknownMessage());
      if (starter.record.threadId) return errorReply(Errors.threadAlreadyCreated());
    }
    const guild = this.requireGuild(parent.guildId);
    // a thread started from a message takes the message's id, as on Discord
    const id = messageId ?? this.nextId();
    const state = this.putChannel(guild, { id, name, type, parent_id: parent.id }, 0, this.botUser.id);
    if (auto !== undefined) state.autoArchiveDuration = Number(auto);
    if (starter) {
      starter.record.threadId = id;
      starter.wire.flags = Number(starter.wire.flags ?? 0) | MessageFlag.HasThread;
      starter.record.flags = Number(starter.wire.flags);
      starter.wire.thread = this.channelWire(state);
    }
    const wire = this.channelWire(state);
    this.gateway.dispatch("THREAD_CREATE", { ...wire, newly_created: true });
    return { status: 201, body: wire };
  }

  // ---- interactions

  private recordInteraction(
    it: InteractionState | null,
    tokenOrId: { id: string; token: string },
    kind: InteractionResponseRecord["kind"],
    r: ParsedRequest | null,
    reply: Reply,
    messageId: string | null,
    type: number | null,
  ): Reply {
    const body = r && isObject(r.body) ? r.body : {};
    const data = kind === "callback" ? (isObject(body.data) ? body.data : {}) : body;
    const flags = typeof data.flags === "number" ? data.flags : 0;
    const msg = messageId ? this.store.get(messageId) : undefined;
    this.interactionResponses.push({
      interactionId: it?.id ?? tokenOrId.id,
      token: tokenOrId.token,
      kind,
      type,
      ephemeral: msg ? msg.record.ephemeral : (flags & MessageFlag.Ephemeral) !== 0,
      content: typeof data.content === "string" ? data.content : null,
      components: Array.isArray(data.components) ? clone(data.components) : null,
      flags,
      messageId,
      status: reply.status,
      body: clone(r?.body ?? null),
      time: Date.now(),
    });
    return reply;
  }

  private interactionCallback(r: ParsedRequest, id: string, token: string): Reply {
    const it = this.interactions.get(id);
    const ids = { id, token };
    const body = isObject(r.body) ? r.body : {};
    const type = typeof body.type === "number" ? body.type : null;
    if (!it || it.token !== token || Date.now() - it.createdAt > this.interactionAckTimeoutMs) {
      return this.recordInteraction(it ?? null, ids, "callback", r, errorReply(Errors.unknownInteraction()), null, type);
    }
    if (it.acked) return this.recordInteraction(it, ids, "callback", r, errorReply(Errors.alreadyAcknowledged()), null, type);
    const data = isObject(body.data) ? body.data : {};
    const ch = this.requireChannel(it.channelId);
    let messageId: string | null = null;
    switch (type) {
      case 4: {
        const invalid = validateMessageBody(data, { mode: "create", interaction: true, fileCount: r.files.length });
        if (invalid) return this.recordInteraction(it, ids, "callback", r, errorReply(invalid), null, type);
        const stored = this.botMessage(ch, data, r, { interaction: it, type: it.type === 2 ? 20 : 0 });
        messageId = stored.wire.id;
        it.originalMessageId = messageId;
        break;
      }
      case 5: {
        const ephemeral = typeof data.flags === "number" ? data.flags & MessageFlag.Ephemeral : 0;
        const stored = this.botMessage(ch, { content: "", flags: ephemeral }, r, {
          interaction: it,
          type: it.type === 2 ? 20 : 0,
          flags: MessageFlag.Loading,
        });
        messageId = stored.wire.id;
        it.originalMessageId = messageId;
        break;
      }
      case 6:
      case 7: {
        if (it.type !== 3 || !it.targetMessageId) {
          return this.recordInteraction(
            it,
            ids,
            "callback",
            r,
            errorReply(apiError(400, 40043, "Interaction response type is not valid for this interaction")),
            null,
            type,
          );
        }
        const target = this.store.get(it.targetMessageId);
        if (!target || target.record.deleted)
          return this.recordInteraction(it, ids, "callback", r, errorReply(Errors.unknownMessage()), null, type);
        if (type === 7) {
          const edited = this.applyBotEdit(target, data, r);
          if (edited.status !== 200) return this.recordInteraction(it, ids, "callback", r, edited, null, type);
        }
        messageId = target.wire.id;
        it.originalMessageId = messageId;
        break;
      }
      case 8:
      case 9:
      case 12:
        break;
      default:
        return this.recordInteraction(
          it,
          ids,
          "callback",
          r,
          errorReply(invalidFormBody(["type"], "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.")),
          null,
          type,
        );
    }
    it.acked = true;
    it.callbackType = type;
    let reply: Reply = { status: 204 };
    if (r.query.get("with_response") === "true") {
      const msg = messageId ? this.store.get(messageId) : undefined;
      reply = {
        status: 200,
        body: {
          interaction: {
            id: it.id,
            type: it.type,
            response_message_id: messageId ?? undefined,
            response_message_loading: type === 5,
            response_message_ephemeral: msg?.record.ephemeral ?? false,
          },
          resource: { type, ...(messageId ? { message: this.fullWire(messageId) } : {}) },
        },
      };
    }
    return this.recordInteraction(it, ids, "callback", r, reply, messageId, type);
  }

  private interactionForWebhook(app: string, token: string): InteractionState | ApiErrorResponse {
    if (app !== this.applicationId) return Errors.unknownWebhook();
    const it = [...this.interactions.values()].find((i) => i.token === token);
    if (!it || Date.now() - it.createdAt > INTERACTION_TOKEN_TTL_MS) return Errors.unknownWebhook();
    return it;
  }

  private webhookFollowup(r: ParsedRequest, app: string, token: string): Reply {
    const found = this.interactionForWebhook(app, token);
    const ids = { id: "", token };
    if (!("token" in found)) return this.recordInteraction(null, ids, "followup", r, errorReply(found), null, null);
    const it = found;
    if (!it.acked) return this.recordInteraction(it, ids, "followup", r, errorReply(Errors.unknownWebhook()), null, null);
    const body = isObject(r.body) ? r.body : {};
    const invalid = validateMessageBody(body, { mode: "create", interaction: true, fileCount: r.files.length });
    if (invalid) return this.recordInteraction(it, ids, "followup", r, errorReply(invalid), null, null);
    const ch = this.requireChannel(it.channelId);
    // the first followup to a deferred response fills in the loading message, as Discord does
    const original = it.originalMessageId ? this.store.get(it.originalMessageId) : undefined;
    let stored: StoredMessage;
    if (it.callbackType === 5 && original && (original.record.flags & MessageFlag.Loading) !== 0) {
      const edited = this.applyBotEdit(original, body, r);
      if (edited.status !== 200) return this.recordInteraction(it, ids, "followup", r, edited, null, null);
      stored = original;
    } else {
      stored = this.botMessage(ch, body, r, { interaction: it, type: 0 });
    }
    const wait = r.query.get("wait") === "true";
    const reply: Reply = wait ? { status: 200, body: this.fullWire(stored.wire.id) } : { status: 204 };
    return this.recordInteraction(it, ids, "followup", r, reply, stored.wire.id, null);
  }

  private webhookMessage(
    method: "GET" | "PATCH" | "DELETE",
    r: ParsedRequest | null,
    app: string,
    token: string,
    messageRef: string,
  ): Reply {
    const found = this.interactionForWebhook(app, token);
    const original = messageRef === "@original";
    const kind: InteractionResponseRecord["kind"] =
      method === "PATCH"
        ? original
          ? "editOriginal"
          : "editFollowup"
        : method === "DELETE"
          ? original
            ? "deleteOriginal"
            : "deleteFollowup"
          : "editOriginal";
    const ids = { id: "", token };
    const record = (it: InteractionState | null, reply: Reply, messageId: string | null) =>
      method === "GET" ? reply : this.recordInteraction(it, ids, kind, r, reply, messageId, null);
    if (!("token" in found)) return record(null, errorReply(found), null);
    const it = found;
    const messageId = original ? it.originalMessageId : messageRef;
    const m = messageId ? this.store.get(messageId) : undefined;
    if (!m || m.record.deleted || (m.record.interactionId !== it.id && messageId !== it.targetMessageId))
      return record(it, errorReply(Errors.unknownMessage()), null);
    if (method === "GET") return { status: 200, body: this.fullWire(m.wire.id) };
    if (method === "DELETE") {
      this.deleteMessage(m);
      return record(it, { status: 204 }, m.wire.id);
    }
    const body = r && isObject(r.body) ? r.body : {};
    const edited = this.applyBotEdit(m, body, r ?? { method, path: "", query: new URLSearchParams(), body: {}, files: [], auth: null });
    return record(it, edited, edited.status === 200 ? m.wire.id : null);
  }
}
