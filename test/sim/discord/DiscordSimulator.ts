/**
 * A Discord simulator on loopback for tests: REST (`/api/v10/...`) and a gateway on one port,
 * spoken to by the real discord.js 14 client (`rest: { api: sim.apiBase }`).
 *
 * It keeps a small world (guilds, channels, threads, DMs, users, messages), answers REST with
 * real-shaped objects and X-RateLimit-* headers, validates bodies the way Discord does (2000
 * characters, never truncated), can script 429s and 5xx (also after the write was saved), enforces
 * optional per-route limits, honours `enforce_nonce`, serves attachments on a CDN route (with
 * download faults) and keeps the bot's uploads, computes permissions for admin commands, replays
 * any dispatch kind after RESUME, routes guild events by shard, and records everything as a user
 * would see it: each message's current state and every version.
 *
 * This class is the facade tests use; the work is done in state/ (the world and its stores),
 * routes/ (one file per REST resource family), http/ (server, rate limits, scripted faults),
 * gateway/ (the WebSocket gateway) and actions/ (what a test makes a user do). See README.md.
 *
 * Paths given to `failNext` / `setRouteLimit` and recorded in `requests` are without `/api` and
 * `/vN` (e.g. `/channels/1/messages/2`).
 */
import { type InteractionHandle, type InteractionOptions, userInteraction } from "./actions/userInteractions.ts";
import { type UserSaysOptions, userDeletes, userEdits, userSays } from "./actions/userMessages.ts";
import type { RefusedIdentifyRecord } from "./gateway/GatewayServer.ts";
import { GatewayServer } from "./gateway/GatewayServer.ts";
import { gatewayHooks, shardOf } from "./gateway/gatewayHooks.ts";
import { cdnHandler } from "./http/cdn.ts";
import type { RouteLimitOptions } from "./http/RateLimiter.ts";
import { RestServer } from "./http/RestServer.ts";
import { permissionsWire } from "./routes/applicationCommands.ts";
import { uploadTooLarge } from "./routes/botMessages.ts";
import { registerRoutes } from "./routes/index.ts";
import type { CommandPermission } from "./state/CommandStore.ts";
import { type CommandAccess, commandAccess } from "./state/commandAccess.ts";
import type { CdnFault, CdnRequestRecord } from "./state/FileStore.ts";
import { guildCreateData, roleWire } from "./state/guildWire.ts";
import type { WireMessage } from "./state/MessageStore.ts";
import type { NonceHit } from "./state/NonceStore.ts";
import { type ReactionRecord, SimState } from "./state/SimState.ts";
import { type BotUser, isThreadType } from "./state/World.ts";
import { channelWire, guildChannelsWire, memberWire } from "./state/wire.ts";
import type {
  AfterCommitRecord,
  CommandRecord,
  CommitFault,
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
  SimRole,
  SimUser,
  StartOptions,
  TypingRecord,
  UploadRecord,
} from "./types.ts";
import { clone, isObject, waitFor } from "./util.ts";

export type { InteractionHandle, InteractionOptions } from "./actions/userInteractions.ts";
export type { UserAttachment, UserSaysOptions } from "./actions/userMessages.ts";
export type { RefusedIdentifyRecord } from "./gateway/GatewayServer.ts";
export { Intent } from "./gateway/gatewayView.ts";
export type { RouteLimitOptions } from "./http/RateLimiter.ts";
export type { CommandPermission } from "./state/CommandStore.ts";
export type { CommandAccess } from "./state/commandAccess.ts";
export type { CdnFault, CdnRequestRecord } from "./state/FileStore.ts";
export type { WireMessage } from "./state/MessageStore.ts";
export type { NonceHit } from "./state/NonceStore.ts";
export { Permission } from "./state/permissions.ts";
export type * from "./types.ts";

/** A dispatch kind for `duplicateOnResume`: an event name, or an interaction kind. */
export type ReplayKind =
  | "MESSAGE_CREATE"
  | "MESSAGE_UPDATE"
  | "MESSAGE_DELETE"
  | "INTERACTION_CREATE"
  | "command"
  | "button"
  | "select"
  | "autocomplete"
  | "modal"
  | (string & {});

/** Bytes for attachment tests: text, binary (e.g. with a text extension), invalid UTF-8. */
export const SampleFiles = {
  text: (s: string): Uint8Array => new TextEncoder().encode(s),
  /** `size` bytes of every value 0–255 in turn (NULs included): binary whatever the file name says */
  binary: (size = 1024): Uint8Array => Uint8Array.from({ length: size }, (_, i) => i % 256),
  /** text with byte sequences that are not UTF-8 (a lone continuation byte, an overlong form, 0xFF) */
  invalidUtf8: (): Uint8Array => Uint8Array.from([...new TextEncoder().encode("caf"), 0xe9, 0x20, 0x80, 0xc0, 0xaf, 0xff, 0x0a]),
};

export class DiscordSimulator {
  readonly botUser: BotUser;
  readonly applicationId: string;

  /** every REST request, in arrival order */
  readonly requests: RequestRecord[];
  /** interaction callbacks and webhook (original/followup) calls */
  readonly interactionResponses: InteractionResponseRecord[];
  /** POST /channels/:id/typing calls */
  readonly typing: TypingRecord[];
  /** reactions the bot added: PUT /channels/:c/messages/:m/reactions/:emoji/@me */
  readonly reactions: ReactionRecord[];
  /** REST requests no route answered (404) — what the client asked that the simulator lacks */
  readonly unhandled: Array<{ method: string; path: string }>;

  private readonly state: SimState;
  private readonly rest: RestServer;
  private readonly gateway: GatewayServer;

  private constructor(opts: StartOptions) {
    this.state = new SimState(opts, (t, d) => this.gateway.dispatch(t, d));
    this.botUser = this.state.world.botUser;
    this.applicationId = this.state.applicationId;
    this.interactionResponses = this.state.interactionResponses;
    this.typing = this.state.typing;
    this.reactions = this.state.reactions;
    this.gateway = new GatewayServer(gatewayHooks(this.state, opts), {
      heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 41250,
      resumeUrl: () => `${this.state.gatewayUrl}/resume`,
    });
    this.rest = new RestServer(opts.token);
    const writeLog = this.state.messages.writeLog;
    this.rest.writes = { mark: () => writeLog.length, since: (mark) => writeLog.slice(mark) };
    this.rest.cdn = cdnHandler(this.state.files);
    this.rest.uploadCheck = (files) => uploadTooLarge(files, this.state.attachmentSizeLimit);
    this.requests = this.rest.requests;
    this.unhandled = this.rest.unhandled;
    registerRoutes(this.rest.router, this.state);
  }

  static async start(opts: StartOptions = {}): Promise<DiscordSimulator> {
    const sim = new DiscordSimulator(opts);
    sim.state.port = await sim.rest.listen((req, socket, head) => sim.gateway.handleUpgrade(req, socket, head));
    return sim;
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    await this.rest.close();
  }

  /** What discord.js takes as `rest: { api }` (and the bot's DISCORD_API_URL). */
  get apiBase(): string {
    return `http://127.0.0.1:${this.state.port}/api`;
  }

  /** The gateway URL that GET /gateway/bot hands out. */
  get gatewayUrl(): string {
    return this.state.gatewayUrl;
  }

  /** global application commands as last registered */
  get commands(): CommandRecord[] {
    return this.state.commands.global;
  }

  set commands(commands: CommandRecord[]) {
    this.state.commands.global = commands;
  }

  // ---------------------------------------------------------------- world

  addUser(user: SimUser): SimUser {
    return this.state.world.addUser(user);
  }

  addGuild(input: SimGuildInput): void {
    const guild = this.state.world.addGuild(input);
    this.gateway.dispatch("GUILD_CREATE", guildCreateData(this.state.world, guild));
  }

  /** Adds a channel to a guild after start (dispatches CHANNEL_CREATE, or THREAD_CREATE for threads). */
  addChannel(guildId: string, channel: SimChannelInput): void {
    const world = this.state.world;
    const guild = world.requireGuild(guildId);
    const ch = world.putChannel(guild, channel, guild.channelIds.length);
    this.gateway.dispatch(isThreadType(ch.type) ? "THREAD_CREATE" : "CHANNEL_CREATE", channelWire(world, ch));
  }

  /** A thread (type 11 public by default) under `parent_id`. */
  addThread(input: { id: string; name: string; parent_id: string; type?: 11 | 12; owner_id?: string }): void {
    const world = this.state.world;
    const parent = world.requireChannel(input.parent_id);
    if (!parent.guildId) throw new Error(`channel ${input.parent_id} is not a guild channel`);
    const guild = world.requireGuild(parent.guildId);
    const thread = world.putChannel(
      guild,
      { id: input.id, name: input.name, type: input.type ?? 11, parent_id: input.parent_id },
      0,
      input.owner_id,
    );
    this.gateway.dispatch("THREAD_CREATE", { ...channelWire(world, thread), newly_created: true });
  }

  /** A DM channel between the bot and `user` (no dispatch: Discord sends none to bots). */
  addDmChannel(input: { id: string; user: SimUser }): void {
    const world = this.state.world;
    world.addUser(input.user);
    world.channels.set(input.id, world.newChannelState({ id: input.id, type: 1, name: null, guildId: null, recipients: [input.user] }));
  }

  addMember(guildId: string, member: SimGuildMemberInput): void {
    const world = this.state.world;
    const guild = world.requireGuild(guildId);
    world.putMember(guild, member);
    this.gateway.dispatch("GUILD_MEMBER_ADD", { ...memberWire(world, guild, member.user.id), guild_id: guild.id });
  }

  /** Adds a role to a guild (GUILD_ROLE_CREATE); `permissions` as a bit set, e.g. `Permission.ManageChannels`. */
  addRole(guildId: string, role: { id: string; name: string; permissions?: bigint; position?: number }): void {
    const guild = this.state.world.requireGuild(guildId);
    const r: SimRole = {
      id: role.id,
      name: role.name,
      permissions: (role.permissions ?? 0n).toString(),
      position: role.position ?? guild.roles.length,
    };
    guild.roles = [...guild.roles.filter((x) => x.id !== role.id), r];
    this.gateway.dispatch("GUILD_ROLE_CREATE", { guild_id: guildId, role: roleWire(r) });
  }

  /** Changes a role's permissions (GUILD_ROLE_UPDATE). */
  setRolePermissions(guildId: string, roleId: string, permissions: bigint): void {
    const guild = this.state.world.requireGuild(guildId);
    const r = guild.roles.find((x) => x.id === roleId);
    if (!r) throw new Error(`unknown role ${roleId} in guild ${guildId}`);
    r.permissions = permissions.toString();
    this.gateway.dispatch("GUILD_ROLE_UPDATE", { guild_id: guildId, role: roleWire(r) });
  }

  /** Replaces a member's roles (GUILD_MEMBER_UPDATE). */
  setMemberRoles(guildId: string, userId: string, roleIds: string[]): void {
    const world = this.state.world;
    const guild = world.requireGuild(guildId);
    const m = guild.members.get(userId);
    if (!m) throw new Error(`user ${userId} is not a member of ${guildId}`);
    m.roles = [...roleIds];
    this.gateway.dispatch("GUILD_MEMBER_UPDATE", { ...memberWire(world, guild, userId), guild_id: guildId });
  }

  /** A member's permissions in a channel as Discord computes them (roles, @everyone, overwrites; owner and Administrator: all). */
  memberPermissions(channelId: string, userId: string): bigint {
    const world = this.state.world;
    return world.userPermissions(world.requireChannel(channelId), userId);
  }

  /**
   * Command permission overrides a server admin sets in Server Settings → Integrations: for one
   * command (by id or name) or, with `"app"`, for every command of the app. Overrides are roles
   * (type 1), users (2) or channels (3); the guild id means @everyone, guild id − 1 all channels.
   * Dispatches APPLICATION_COMMAND_PERMISSIONS_UPDATE; `interaction()` honours them.
   */
  setCommandPermissions(guildId: string, command: string, permissions: CommandPermission[]): void {
    const targetId =
      command === "app" || command === this.applicationId
        ? this.applicationId
        : /^\d+$/.test(command)
          ? command
          : this.state.commands.find(command, guildId)?.id;
    if (!targetId) throw new Error(`no command named ${command} is registered for guild ${guildId}`);
    this.state.commands.setPermissions(guildId, targetId, permissions);
    this.gateway.dispatch("APPLICATION_COMMAND_PERMISSIONS_UPDATE", permissionsWire(this.state, guildId, targetId, permissions));
  }

  /** Whether Discord offers the command `name` to `userId` in the channel, and which rule decided. */
  canUseCommand(name: string, channelId: string, userId: string): CommandAccess {
    const ch = this.state.world.requireChannel(channelId);
    return commandAccess(this.state.world, this.state.commands, this.state.commands.find(name, ch.guildId), channelId, userId);
  }

  /** Sets (or replaces) a permission overwrite on a channel, e.g. to deny the bot Send Messages. */
  setChannelOverwrite(channelId: string, overwrite: { id: string; type: 0 | 1; allow?: bigint; deny?: bigint }): void {
    const world = this.state.world;
    const ch = world.requireChannel(channelId);
    ch.overwrites = ch.overwrites.filter((o) => o.id !== overwrite.id);
    ch.overwrites.push({
      id: overwrite.id,
      type: overwrite.type,
      allow: (overwrite.allow ?? 0n).toString(),
      deny: (overwrite.deny ?? 0n).toString(),
    });
    if (ch.guildId) this.gateway.dispatch(isThreadType(ch.type) ? "THREAD_UPDATE" : "CHANNEL_UPDATE", channelWire(world, ch));
  }

  /** The channel on the wire (as GET /channels/:id answers), or undefined. */
  channel(channelId: string): Json | undefined {
    const ch = this.state.world.channels.get(channelId);
    return ch ? channelWire(this.state.world, ch) : undefined;
  }

  /** Channels (threads included) of a guild. */
  guildChannels(guildId: string): Json[] {
    return guildChannelsWire(this.state.world, guildId);
  }

  // ---------------------------------------------------------------- faults and limits

  /** The next `times` requests matching method and path (without /api/vN) get this answer instead. */
  failNext(match: { method: string; path: RegExp }, response: FailResponse, times = 1): void {
    this.rest.faults.add(match, response, times);
  }

  /**
   * The next `times` matching requests are carried out — the message is stored and dispatched, the
   * edit applied, the interaction acknowledged — and then answered with `fault` instead of the
   * route's 2xx: a 5xx or a TCP reset (discord.js retries both), a closed socket (discord.js gives
   * up), or no answer (the client's REST timeout aborts and retries). Requests the route refuses
   * (4xx) do not use the fault up. Each use is recorded in `afterCommitFaults`.
   */
  failAfterCommit(match: { method: string; path: RegExp }, fault: CommitFault, times = 1): void {
    this.rest.faults.addAfterCommit(match, fault, times);
  }

  /** Writes that were saved and then answered with a `failAfterCommit` fault, with the message ids they wrote. */
  get afterCommitFaults(): AfterCommitRecord[] {
    return this.rest.afterCommitFaults;
  }

  /** Creates answered with an existing message because of `enforce_nonce` (same author, same nonce, within `nonceTtlMs`). */
  get nonceHits(): NonceHit[] {
    return this.state.nonces.hits;
  }

  /** Moves every remembered nonce `ms` into the past (to test a retry after the window without waiting). */
  ageNonces(ms: number): void {
    this.state.nonces.age(ms);
  }

  /** A real limit for matching routes (bucket per major parameter: channel, guild, webhook): over it → 429. */
  setRouteLimit(path: RegExp, opts: RouteLimitOptions): void {
    this.rest.limiter.setRouteLimit(path, opts);
  }

  clearRouteLimits(): void {
    this.rest.limiter.clearRouteLimits();
  }

  /** A global requests-per-second limit (off by default): over it → 429 with `global: true`. */
  setGlobalLimit(perSecond: number | null): void {
    this.rest.limiter.setGlobalLimit(perSecond);
  }

  /** 429s answered by real (route/global) limits, scripted ones not counted. */
  get rateLimitedCount(): number {
    return this.rest.limiter.limitedCount;
  }

  // ---------------------------------------------------------------- gateway controls

  /** Op 7 RECONNECT to every session, or only to the sessions of shard `shardId`. */
  sendReconnect(shardId?: number): void {
    this.gateway.sendReconnect(shardId);
  }

  /** Op 9 INVALID_SESSION to every session, or only to shard `shardId`'s. */
  sendInvalidSession(resumable: boolean, shardId?: number): void {
    this.gateway.sendInvalidSession(resumable, shardId);
  }

  /** Close the gateway connection(s) with a close frame (all, or shard `shardId`'s); 4000 (default) makes the client resume. */
  dropConnection(code = 4000, shardId?: number): void {
    this.gateway.dropConnection(code, "simulated drop", shardId);
  }

  /** End the gateway connection(s) without a close frame (all, or shard `shardId`'s). */
  kill(shardId?: number): void {
    this.gateway.kill(shardId);
  }

  /** Discord's sharding formula: the shard (of `numShards`) that receives a guild's events, `(guild_id >> 22) % numShards`. */
  static shardOf(guildId: string, numShards: number): number {
    return shardOf(guildId, numShards);
  }

  /** Changes `shards` in GET /gateway/bot (what `shards: "auto"` clients start). */
  setRecommendedShards(count: number): void {
    this.state.gatewayBot.recommendedShards = count;
  }

  /** IDENTIFYs refused: invalid shard (4010), sharding required (4011), or over max_concurrency (INVALID_SESSION). */
  get refusedIdentifies(): RefusedIdentifyRecord[] {
    return this.gateway.refusedIdentifies;
  }

  /** `session_start_limit` as GET /gateway/bot reports it now (`remaining` goes down with each accepted IDENTIFY). */
  get sessionStartLimit(): { total: number; remaining: number; reset_after: number; max_concurrency: number } {
    const g = this.state.gatewayBot;
    return { total: g.total, remaining: g.remaining, reset_after: g.resetAfterMs, max_concurrency: g.maxConcurrency };
  }

  /** The shard ([id, count], null when unsharded) of every live gateway session. */
  get liveShards(): Array<[number, number] | null> {
    return this.gateway.liveSessions().map((s) => (s.shard ? [s.shard[0], s.shard[1]] : null));
  }

  /** Stop (or restart) answering heartbeats: without acks the client declares the link a zombie and resumes. */
  setHeartbeatAck(enabled: boolean): void {
    this.gateway.ackHeartbeats = enabled;
  }

  /**
   * On the next RESUME, send again a dispatch that was already delivered: a message id selects its
   * MESSAGE_CREATE, an interaction id its INTERACTION_CREATE (original sequence number, as a replay
   * from a stale `seq` would); an object is sent as a new dispatch. Returns how many were queued.
   */
  replayOnNextResume(what: string | { t: string; d: unknown }): number {
    if (typeof what === "string") {
      return this.gateway.queueReplay((t, d) => (t === "MESSAGE_CREATE" || t === "INTERACTION_CREATE") && isObject(d) && d.id === what);
    }
    this.gateway.queueReplayPayload(what.t, what.d);
    return this.gateway.liveSessions().length;
  }

  /**
   * A forced-duplicate switch per dispatch kind: while on, every accepted RESUME sends again (with
   * their original sequence numbers, before the missed ones) the dispatches of that kind the client
   * had already received since the previous IDENTIFY/RESUME — as Discord may when it replays from
   * an older point. Kinds: any event name (`MESSAGE_CREATE`, `MESSAGE_UPDATE`, `INTERACTION_CREATE`
   * …) or, for interactions, `command`, `button`, `select`, `autocomplete`, `modal`.
   */
  duplicateOnResume(kinds: ReplayKind | ReplayKind[], on = true): void {
    for (const k of Array.isArray(kinds) ? kinds : [kinds]) {
      if (on) this.gateway.duplicateKinds.add(k);
      else this.gateway.duplicateKinds.delete(k);
    }
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
    return userSays(this.state, opts);
  }

  /** A user edits their message (MESSAGE_UPDATE). */
  userEdits(messageId: string, content: string): void {
    userEdits(this.state, messageId, content);
  }

  /** A user (or moderator) deletes a message (MESSAGE_DELETE). */
  userDeletes(messageId: string): void {
    userDeletes(this.state, messageId);
  }

  /** A moderator deletes someone's message — the bot's reply, say (MESSAGE_DELETE; later edits get 404 10008). */
  moderatorDeletes(messageId: string): void {
    userDeletes(this.state, messageId);
  }

  /** A moderator bulk-deletes messages of one channel: one MESSAGE_DELETE_BULK with the ids (later edits get 404 10008). */
  moderatorBulkDeletes(channelId: string, messageIds: string[]): void {
    this.state.messages.removeBulk(channelId, messageIds);
  }

  /** Dispatches INTERACTION_CREATE (slash command or component) and returns a handle on its responses. */
  interaction(opts: InteractionOptions): InteractionHandle {
    return userInteraction(this.state, opts);
  }

  // ---------------------------------------------------------------- recordings

  /** Current state of each message in the channel, oldest first (deleted ones left out unless asked). */
  messages(channelId: string, opts: { includeDeleted?: boolean; includeEphemeral?: boolean } = {}): MessageRecord[] {
    return this.state.messages.records(channelId, opts);
  }

  /** One message's current state. */
  message(messageId: string): MessageRecord | undefined {
    return this.state.messages.record(messageId);
  }

  /** Every version of a message's content: the create, then each edit, with timestamps. */
  history(messageId: string): MessageVersion[] {
    return this.state.messages.history(messageId);
  }

  /** The bytes of an attachment (a user's or one the bot uploaded), by attachment id or URL; undefined for generated (huge) files. */
  attachmentData(idOrUrl: string): Buffer | undefined {
    const f = this.state.files.find(idOrUrl);
    return f?.data ? Buffer.from(f.data) : undefined;
  }

  /** Every file the bot uploaded (message create/edit, interaction responses), oldest first; read the bytes with `attachmentData(id)`. */
  get uploads(): UploadRecord[] {
    return this.state.files.uploadsByBot().map((f) => ({
      attachmentId: f.id,
      messageId: f.messageId,
      channelId: f.channelId,
      filename: f.filename,
      contentType: f.contentType,
      size: f.size,
      description: f.description,
      time: f.time,
    }));
  }

  /** What downloading an attachment gets from now on (null: the bytes, at full speed). */
  setAttachmentFault(idOrUrl: string, fault: CdnFault | null): void {
    const f = this.state.files.find(idOrUrl);
    if (!f) throw new Error(`unknown attachment ${idOrUrl}`);
    f.fault = fault;
  }

  /** Every request to the simulator's CDN (attachment downloads), with the status answered (0: no answer). */
  get cdnRequests(): CdnRequestRecord[] {
    return this.state.files.cdnRequests;
  }

  /** Commands registered for a guild (PUT /applications/:app/guilds/:g/commands). */
  guildCommands(guildId: string): CommandRecord[] {
    return clone(this.state.commands.list(guildId));
  }

  /** Polls `predicate` every 10 ms until it returns something truthy; resolves with it, or rejects after `timeoutMs`. */
  async waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
    return waitFor(predicate, timeoutMs, what);
  }
}
