import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parse as parseQuery, stringify as stringifyQuery } from "node:querystring";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { SimEnvelope } from "./SimEnvelope.ts";
import { SlidingWindowLimiter } from "./SlidingWindowLimiter.ts";
import { signSlackRequest } from "./signSlackRequest.ts";
import type {
  EnvelopeAck,
  EnvelopeType,
  FailSpec,
  MethodLimit,
  SimCall,
  SimEphemeral,
  SimMessage,
  SimResponseUrlPost,
  SimTeamOptions,
  SlackSimulatorOptions,
} from "./types.ts";
import { type WaitForOptions, waitFor } from "./waitFor.ts";

export type { PostSignedOptions, PostSignedResult } from "./postSigned.ts";
export { postSigned } from "./postSigned.ts";
export { SimEnvelope } from "./SimEnvelope.ts";
export { signSlackRequest } from "./signSlackRequest.ts";
export type * from "./types.ts";
export { waitFor } from "./waitFor.ts";

/** Slack's limit on a message's `text`: longer is refused with `msg_too_long` (never cut). */
export const SLACK_MAX_TEXT = 40_000;
/** Section block text limit. */
export const SLACK_MAX_SECTION_TEXT = 3_000;
/** Markdown block text limit, across the message's markdown blocks. */
export const SLACK_MAX_MARKDOWN_BLOCK_TEXT = 12_000;
/** Blocks per message. */
export const SLACK_MAX_BLOCKS = 50;
/** Posts a `response_url` takes. */
export const RESPONSE_URL_MAX_USES = 5;

type ChannelType = "channel" | "group" | "im" | "mpim";

interface ChannelState {
  id: string;
  name: string;
  type: ChannelType;
  user?: string;
  created: number;
}

interface UserState {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
  botId?: string;
}

interface StoredMessage {
  ts: string;
  channel: string;
  team: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  user?: string;
  botId?: string;
  appId?: string;
  subtype?: string;
  replyBroadcast?: boolean;
  versions: string[];
  edits: number;
  deleted: boolean;
  replyCount: number;
  replyUsers: Set<string>;
  latestReply?: string;
  reactions: Map<string, string[]>;
  postParams: Record<string, unknown>;
  editedTs?: string;
  clientMsgId?: string;
}

interface TeamState {
  id: string;
  name: string;
  domain: string;
  botUserId: string;
  botId: string;
  channels: Map<string, ChannelState>;
  users: Map<string, UserState>;
  messages: Map<string, StoredMessage[]>;
  ephemerals: SimEphemeral[];
}

interface ResponseUrlState {
  id: string;
  teamId: string;
  channel: string;
  userId: string;
  messageTs?: string;
  threadTs?: string;
  uses: number;
}

interface ApiContext {
  method: string;
  params: Record<string, unknown>;
  token: string;
  team: TeamState | undefined;
  /** Work to run once the response is written (platform echo events). */
  after: Array<() => void>;
}

type TokenKind = "bot" | "app";

interface MethodSpec {
  auth: TokenKind;
  run: (ctx: ApiContext) => Record<string, unknown>;
}

class SimApiError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

interface PendingFailure {
  method: string;
  spec: FailSpec;
  remaining: number;
  teamId?: string;
}

interface HttpDelivery {
  url: string;
  signingSecret: string;
}

export interface EventOptions {
  /** 0 for a first delivery (default); Slack counts retries from 1. */
  retryAttempt?: number;
  /** e.g. "timeout", "http_error". Default "" (first delivery) or "timeout" (retries). */
  retryReason?: string;
  eventId?: string;
  eventTime?: number;
}

export interface SlashCommandInput {
  command: string;
  text?: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  channel_name?: string;
  [field: string]: unknown;
}

export interface UserMessageInput {
  channel: string;
  user: string;
  text: string;
  /** Make it a reply in this thread (a reply's ts is mapped to its parent, as Slack does). */
  threadTs?: string;
  /** Default from the channel id: C… "channel", G… "group", D… "im". */
  channelType?: ChannelType;
  /** Make it another bot's message (bot_id set). */
  botId?: string;
  subtype?: string;
}

export interface UserMentionInput {
  channel: string;
  user: string;
  /** `<@BOTUSERID> ` is put in front unless the text already mentions the bot. */
  text: string;
  threadTs?: string;
  /** Override the simulator's `messageEventsForMentions` for this call. */
  alsoMessageEvent?: boolean;
}

export interface ClickButtonInput {
  channel: string;
  /** The ts of the message that carries the button. */
  messageTs: string;
  actionId: string;
  value?: string;
  /** Default: the block in the stored message that holds the action, else "actions". */
  blockId?: string;
  user?: string;
}

export interface MessagesOptions {
  includeDeleted?: boolean;
}

function randomId(prefix: string, bytes = 6): string {
  return `${prefix}${randomBytes(bytes).toString("hex").toUpperCase()}`;
}

function compareTs(a: string, b: string): number {
  const [as = "0", af = "0"] = a.split(".");
  const [bs = "0", bf = "0"] = b.split(".");
  const sec = Number(as) - Number(bs);
  if (sec !== 0) return sec;
  return Number(af.padEnd(6, "0")) - Number(bf.padEnd(6, "0"));
}

function asString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function asBool(value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  return value === true || value === "true" || value === "1" || value === 1;
}

function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "workspace"
  );
}

function channelTypeOf(id: string): ChannelType {
  if (id.startsWith("D")) return "im";
  if (id.startsWith("G")) return "group";
  return "channel";
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Rich text blocks as Slack attaches them to a user's message (mentions become user elements). */
function richTextBlocks(text: string): unknown[] {
  const elements: unknown[] = [];
  const re = /<@([A-Z0-9]+)(?:\|[^>]*)?>/g;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) elements.push({ type: "text", text: text.slice(last, m.index) });
    elements.push({ type: "user", user_id: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) elements.push({ type: "text", text: text.slice(last) });
  return [{ type: "rich_text", block_id: randomId("b", 3).toLowerCase(), elements: [{ type: "rich_text_section", elements }] }];
}

function blockText(block: Record<string, unknown>): string {
  const text = block.text;
  if (typeof text === "string") return text;
  if (typeof text === "object" && text !== null) {
    const inner = (text as Record<string, unknown>).text;
    if (typeof inner === "string") return inner;
  }
  return "";
}

/** Throws the error Slack answers for blocks it refuses. */
function validateBlocks(blocks: unknown[] | undefined): void {
  if (!blocks) return;
  if (blocks.length > SLACK_MAX_BLOCKS) throw new SimApiError("invalid_blocks");
  let markdownTotal = 0;
  for (const raw of blocks) {
    if (typeof raw !== "object" || raw === null) throw new SimApiError("invalid_blocks");
    const block = raw as Record<string, unknown>;
    if (typeof block.type !== "string") throw new SimApiError("invalid_blocks");
    if (block.type === "section" && blockText(block).length > SLACK_MAX_SECTION_TEXT) {
      throw new SimApiError("invalid_blocks");
    }
    if (block.type === "markdown") markdownTotal += blockText(block).length;
  }
  if (markdownTotal > SLACK_MAX_MARKDOWN_BLOCK_TEXT) throw new SimApiError("msg_blocks_too_long");
}

/**
 * A Slack workspace (or several) on loopback, for tests: the Web API methods a bot uses, Socket Mode
 * over a WebSocket, `response_url`s, rate limits on demand, and a record of everything, so a test can
 * drive the real `@slack/bolt` App and assert on what a user would see.
 */
export class SlackSimulator {
  /** `http://127.0.0.1:PORT/api/`: Bolt's `clientOptions.slackApiUrl`, our SLACK_API_URL. */
  readonly apiUrl: string;
  /** `http://127.0.0.1:PORT`. */
  readonly baseUrl: string;
  readonly port: number;
  readonly appId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly botName: string;
  readonly verificationToken: string;
  /** Toggle at will. */
  echoBotPosts: boolean;
  echoBotEdits: boolean;
  messageEventsForMentions: boolean;

  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly teams = new Map<string, TeamState>();
  private readonly tokenTeams = new Map<string, string>();
  private readonly callLog: SimCall[] = [];
  private readonly envelopeLog: SimEnvelope[] = [];
  private readonly unknownAcks: unknown[] = [];
  private readonly pendingAcks = new Map<string, SimEnvelope>();
  private readonly undelivered: SimEnvelope[] = [];
  private readonly sockets: WebSocket[] = [];
  private readonly tickets = new Set<string>();
  private readonly limits = new Map<string, { limiter: SlidingWindowLimiter; per: "team" | "channel" }>();
  private readonly failures: PendingFailure[] = [];
  private readonly responseUrls = new Map<string, ResponseUrlState>();
  private readonly responseUrlLog: SimResponseUrlPost[] = [];
  private readonly methods: Record<string, MethodSpec>;
  private readonly pingTimer: NodeJS.Timeout | undefined;
  private httpDelivery: HttpDelivery | undefined;
  private lastMicros = 0;
  private hellos = 0;
  private stopped = false;

  private constructor(server: Server, port: number, options: SlackSimulatorOptions) {
    this.server = server;
    this.port = port;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.baseUrl}/api/`;
    this.appId = options.appId ?? "A0SIMAPP";
    this.botUserId = options.botUserId ?? "U0BOT";
    this.botId = options.botId ?? "B0BOT";
    this.botName = options.botName ?? "qwenbot";
    this.verificationToken = options.verificationToken ?? "sim-verification-token";
    this.echoBotPosts = options.echoBotPosts ?? false;
    this.echoBotEdits = options.echoBotEdits ?? false;
    this.messageEventsForMentions = options.messageEventsForMentions ?? true;
    for (const team of options.teams ?? [{ id: "T1" }]) this.addTeam(team);
    this.methods = this.buildMethods();
    this.wss = new WebSocketServer({ noServer: true });
    server.on("request", (req, res) => {
      this.onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(error instanceof Error ? error.message : String(error));
      });
    });
    server.on("upgrade", (req: IncomingMessage, socket, head) => {
      const url = new URL(req.url ?? "/", this.baseUrl);
      const ticket = url.searchParams.get("ticket");
      if (!url.pathname.startsWith("/link") || ticket === null || !this.tickets.has(ticket)) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
        return;
      }
      this.tickets.delete(ticket);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    const pingMs = options.serverPingIntervalMs ?? 0;
    this.pingTimer =
      pingMs > 0
        ? setInterval(() => {
            for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.ping();
          }, pingMs)
        : undefined;
  }

  /** Starts a simulator on 127.0.0.1, on an ephemeral port. */
  static async start(options: SlackSimulatorOptions = {}): Promise<SlackSimulator> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    return new SlackSimulator(server, port, options);
  }

  /** Closes every socket and the server. Pending acks stay pending. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const ws of [...this.sockets]) ws.terminate();
    this.sockets.length = 0;
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------- workspace setup

  addTeam(team: SimTeamOptions): void {
    const name = team.name ?? `Team ${team.id}`;
    const state: TeamState = {
      id: team.id,
      name,
      domain: team.domain ?? slug(name),
      botUserId: team.botUserId ?? this.botUserId,
      botId: team.botId ?? this.botId,
      channels: new Map(),
      users: new Map(),
      messages: new Map(),
      ephemerals: [],
    };
    state.users.set(state.botUserId, {
      id: state.botUserId,
      name: this.botName,
      realName: this.botName,
      isBot: true,
      botId: state.botId,
    });
    this.teams.set(team.id, state);
  }

  /** Any token can be made a bot token of a workspace (besides the `xoxb-<team>-…` convention). */
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

  /** The bot user id in a workspace. */
  botUserIdFor(teamId: string): string {
    return this.team(teamId).botUserId;
  }

  botIdFor(teamId: string): string {
    return this.team(teamId).botId;
  }

  // ---------------------------------------------------------------- rate limits and failures

  /** e.g. `setMethodLimit("chat.update", { perMinute: 50 })`: Tier-3-like, per workspace. */
  setMethodLimit(method: string, limit: MethodLimit): void {
    const windowMs = limit.perMinute !== undefined ? 60_000 : (limit.windowMs ?? 60_000);
    const count = limit.perMinute ?? limit.limit;
    if (count === undefined || count < 1) throw new Error("setMethodLimit needs perMinute or limit ≥ 1");
    this.limits.set(method, { limiter: new SlidingWindowLimiter(count, windowMs), per: limit.per ?? "team" });
  }

  clearMethodLimit(method: string): void {
    this.limits.delete(method);
  }

  /**
   * The next `times` calls of `method` (in `teamId`, if given) fail: `{status: 429, retryAfterSec}` →
   * HTTP 429 with Retry-After; `{status: 500}` → that HTTP status; `{error}` → 200 `{ok:false, error}`.
   */
  failNext(method: string, spec: FailSpec, times = 1, options: { teamId?: string } = {}): void {
    const failure: PendingFailure = { method, spec, remaining: times };
    if (options.teamId !== undefined) failure.teamId = options.teamId;
    this.failures.push(failure);
  }

  // ---------------------------------------------------------------- what happened

  /** Web API calls, oldest first; filter by method and/or workspace. */
  calls(method?: string, teamId?: string): SimCall[] {
    return this.callLog.filter((c) => (method === undefined || c.method === method) && (teamId === undefined || c.teamId === teamId));
  }

  /** Calls answered with HTTP 429. */
  rateLimited(method?: string, teamId?: string): SimCall[] {
    return this.calls(method, teamId).filter((c) => c.status === 429);
  }

  /** Calls to methods the simulator does not know. */
  unknownMethods(): SimCall[] {
    return this.callLog.filter((c) => c.error === "unknown_method");
  }

  /** Most successful calls of `method` in `teamId` seen within any `windowMs` span. */
  maxCallsInWindow(method: string, teamId: string, windowMs: number): number {
    const times = this.calls(method, teamId)
      .filter((c) => c.ok)
      .map((c) => c.time)
      .sort((a, b) => a - b);
    let best = 0;
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while ((times[end] ?? 0) - (times[start] ?? 0) >= windowMs) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }

  /** Every envelope sent, oldest first. */
  envelopes(type?: EnvelopeType): SimEnvelope[] {
    return this.envelopeLog.filter((e) => type === undefined || e.type === type);
  }

  /** Acks received so far. */
  acks(): EnvelopeAck[] {
    return this.envelopeLog.flatMap((e) => (e.ack ? [e.ack] : []));
  }

  /** Acks for envelope ids the simulator never sent (or already acked). */
  strayAcks(): unknown[] {
    return [...this.unknownAcks];
  }

  /** Messages in a channel (thread replies included), in ts order. */
  messages(teamId: string, channel: string, options: MessagesOptions = {}): SimMessage[] {
    const team = this.team(teamId);
    return (team.messages.get(channel) ?? []).filter((m) => options.includeDeleted || !m.deleted).map((m) => this.view(m));
  }

  /** A thread: its parent, then its replies, in ts order. */
  thread(teamId: string, channel: string, threadTs: string, options: MessagesOptions = {}): SimMessage[] {
    return this.messages(teamId, channel, options).filter((m) => m.ts === threadTs || m.thread_ts === threadTs);
  }

  /** One message, by ts. */
  message(teamId: string, channel: string, ts: string): SimMessage | undefined {
    const stored = this.find(this.team(teamId), channel, ts);
    return stored ? this.view(stored) : undefined;
  }

  /** Every text version of a message, first to last. */
  history(teamId: string, channel: string, ts: string): string[] {
    const stored = this.find(this.team(teamId), channel, ts);
    return stored ? [...stored.versions] : [];
  }

  /** Ephemeral messages (chat.postEphemeral, ephemeral response_url posts, command ack texts). */
  ephemerals(teamId: string, channel?: string): SimEphemeral[] {
    return this.team(teamId).ephemerals.filter((e) => channel === undefined || e.channel === channel);
  }

  /** Posts to response_urls, oldest first. */
  responseUrlPosts(): SimResponseUrlPost[] {
    return [...this.responseUrlLog];
  }

  /** Open Socket Mode connections. */
  get connectionCount(): number {
    return this.sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  }

  /** Socket Mode connections made so far (hellos sent). */
  get connectCount(): number {
    return this.hellos;
  }

  waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, options?: WaitForOptions): Promise<NonNullable<T>> {
    return waitFor(predicate, timeoutMs, options);
  }

  /** Resolves once `count` Socket Mode connections have been made in total. */
  async waitForConnect(count = 1, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.hellos >= count && this.connectionCount > 0, timeoutMs, {
      message: `${count} socket mode connection(s)`,
    });
  }

  // ---------------------------------------------------------------- delivery to the app

  /**
   * Deliver envelopes as HTTP requests signed with `signingSecret` to `url` (an app in HTTP mode)
   * instead of over Socket Mode; `undefined` switches back. Acks then carry the HTTP status.
   */
  setHttpDelivery(target: HttpDelivery | undefined): void {
    this.httpDelivery = target;
  }

  /** Sends an `events_api` envelope carrying `event` (an event_callback) from `teamId`. */
  sendEvent(teamId: string, event: Record<string, unknown>, options: EventOptions = {}): SimEnvelope {
    return this.sendEventFrom(teamId, event, options, "test");
  }

  /** The event_callback body Slack would send for `event` (for HTTP-mode tests). */
  buildEventPayload(teamId: string, event: Record<string, unknown>, eventId?: string, eventTime?: number): Record<string, unknown> {
    const team = this.team(teamId);
    const eventTs = asString(event.event_ts) ?? asString(event.ts) ?? this.nextTs();
    return {
      token: this.verificationToken,
      team_id: team.id,
      context_team_id: team.id,
      context_enterprise_id: null,
      api_app_id: this.appId,
      event: { ...event, event_ts: eventTs },
      type: "event_callback",
      event_id: eventId ?? randomId("Ev0"),
      event_time: eventTime ?? Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: team.id, user_id: team.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
      event_context: randomId("4-", 12).toLowerCase(),
    };
  }

  /** Sends a `slash_commands` envelope (accepts_response_payload: true). */
  sendSlashCommand(teamId: string, command: SlashCommandInput): SimEnvelope {
    const payload = this.buildSlashCommandPayload(teamId, command);
    return this.dispatch(new SimEnvelope(randomId("env-", 8).toLowerCase(), "slash_commands", teamId, payload, 0, ""));
  }

  /** The fields of a slash command as Slack sends them, with a fresh response_url and trigger_id. */
  buildSlashCommandPayload(teamId: string, command: SlashCommandInput): Record<string, unknown> {
    const team = this.team(teamId);
    const userId = command.user_id ?? "U0USER1";
    const channelId = command.channel_id ?? "C0GENERAL";
    this.ensureUser(team, userId, command.user_name);
    this.ensureChannel(team, channelId, command.channel_name);
    const user = team.users.get(userId);
    const channel = team.channels.get(channelId);
    const responseUrl = this.newResponseUrl({ teamId, channel: channelId, userId });
    return {
      token: this.verificationToken,
      team_id: team.id,
      team_domain: team.domain,
      channel_id: channelId,
      channel_name: channel?.name ?? channelId.toLowerCase(),
      user_id: userId,
      user_name: user?.name ?? userId.toLowerCase(),
      api_app_id: this.appId,
      is_enterprise_install: "false",
      response_url: responseUrl,
      trigger_id: `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(8).toString("hex")}`,
      ...command,
      text: command.text ?? "",
    };
  }

  /** Sends an `interactive` envelope; missing fields get Slack-like defaults (block_actions). */
  sendInteractive(teamId: string, payload: Record<string, unknown>): SimEnvelope {
    const full = this.buildInteractivePayload(teamId, payload);
    return this.dispatch(new SimEnvelope(randomId("env-", 8).toLowerCase(), "interactive", teamId, full, 0, ""));
  }

  /** An interactive payload as Slack sends it: defaults, then `payload` over them. */
  buildInteractivePayload(teamId: string, payload: Record<string, unknown>): Record<string, unknown> {
    const team = this.team(teamId);
    const container = (payload.container ?? {}) as Record<string, unknown>;
    const channelField = payload.channel as Record<string, unknown> | undefined;
    const channelId = asString(container.channel_id) ?? asString(channelField?.id) ?? "C0GENERAL";
    const userField = payload.user as Record<string, unknown> | undefined;
    const userId = asString(userField?.id) ?? "U0USER1";
    this.ensureUser(team, userId);
    this.ensureChannel(team, channelId);
    const messageTs = asString(container.message_ts);
    const stored = messageTs !== undefined ? this.find(team, channelId, messageTs) : undefined;
    const responseUrlInput: Omit<ResponseUrlState, "id" | "uses"> = { teamId, channel: channelId, userId };
    if (messageTs !== undefined) responseUrlInput.messageTs = messageTs;
    if (stored?.threadTs !== undefined) responseUrlInput.threadTs = stored.threadTs;
    const user = team.users.get(userId);
    const defaults: Record<string, unknown> = {
      type: "block_actions",
      user: { id: userId, username: user?.name ?? userId.toLowerCase(), name: user?.name ?? userId.toLowerCase(), team_id: team.id },
      api_app_id: this.appId,
      token: this.verificationToken,
      container: {
        type: "message",
        channel_id: channelId,
        is_ephemeral: false,
        ...(messageTs !== undefined ? { message_ts: messageTs } : {}),
        ...(stored?.threadTs !== undefined ? { thread_ts: stored.threadTs } : {}),
        ...container,
      },
      trigger_id: `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(8).toString("hex")}`,
      team: { id: team.id, domain: team.domain },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: channelId, name: team.channels.get(channelId)?.name ?? channelId.toLowerCase() },
      state: { values: {} },
      response_url: this.newResponseUrl(responseUrlInput),
      actions: [],
    };
    if (stored) defaults.message = this.slackShape(stored, team);
    return { ...defaults, ...payload, container: defaults.container };
  }

  /** A user clicks a button (block_actions) on a message the simulator holds. */
  clickButton(teamId: string, input: ClickButtonInput): SimEnvelope {
    const team = this.team(teamId);
    const stored = this.find(team, input.channel, input.messageTs);
    let blockId = input.blockId;
    let buttonText = input.actionId;
    for (const block of stored?.blocks ?? []) {
      const b = block as Record<string, unknown>;
      const candidates = [...(asArray(b.elements) ?? []), b.accessory];
      for (const el of candidates) {
        const e = el as Record<string, unknown> | undefined;
        if (e && e.action_id === input.actionId) {
          blockId ??= asString(b.block_id);
          buttonText = blockText(e) || buttonText;
        }
      }
    }
    const action: Record<string, unknown> = {
      action_id: input.actionId,
      block_id: blockId ?? "actions",
      text: { type: "plain_text", text: buttonText, emoji: true },
      type: "button",
      action_ts: this.nextTs(),
    };
    if (input.value !== undefined) action.value = input.value;
    return this.sendInteractive(teamId, {
      user: { id: input.user ?? "U0USER1" },
      container: { type: "message", message_ts: input.messageTs, channel_id: input.channel, is_ephemeral: false },
      actions: [action],
    });
  }

  /** Sends the same payload again (same event_id) in a new envelope, retry_attempt + 1. */
  redeliver(envelope: SimEnvelope, options: { retryReason?: string } = {}): SimEnvelope {
    const next = new SimEnvelope(
      randomId("env-", 8).toLowerCase(),
      envelope.type,
      envelope.teamId,
      envelope.payload,
      envelope.retryAttempt + 1,
      options.retryReason ?? "timeout",
      "redelivery",
    );
    return this.dispatch(next);
  }

  /** Asks every Socket Mode client to reconnect (`{type: "disconnect"}`). */
  sendDisconnect(reason = "refresh_requested"): void {
    this.broadcast({ type: "disconnect", reason, debug_info: { host: "applink-sim" } });
  }

  /** Cuts every Socket Mode connection without a close frame. */
  dropSocket(): void {
    for (const ws of [...this.sockets]) ws.terminate();
  }

  /** Sends any JSON frame to every Socket Mode client. */
  broadcast(frame: Record<string, unknown>): void {
    const raw = JSON.stringify(frame);
    for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.send(raw);
  }

  // ---------------------------------------------------------------- users doing things

  /**
   * A user mentions the bot: the message is stored (with a ts) and an `app_mention` event sent
   * (plus the `message` event, when `messageEventsForMentions`).
   */
  userMentions(teamId: string, input: UserMentionInput): { ts: string; threadTs?: string; event: SimEnvelope; messageEvent?: SimEnvelope } {
    const team = this.team(teamId);
    const mention = `<@${team.botUserId}>`;
    const text = input.text.includes(mention) ? input.text : `${mention} ${input.text}`;
    const stored = this.storeUserMessage(team, { ...input, text });
    const event: Record<string, unknown> = {
      type: "app_mention",
      client_msg_id: stored.clientMsgId,
      text,
      user: input.user,
      ts: stored.ts,
      blocks: stored.blocks,
      team: team.id,
      channel: input.channel,
      event_ts: stored.ts,
    };
    if (stored.threadTs !== undefined) event.thread_ts = stored.threadTs;
    const result: { ts: string; threadTs?: string; event: SimEnvelope; messageEvent?: SimEnvelope } = {
      ts: stored.ts,
      event: this.sendEvent(teamId, event),
    };
    if (stored.threadTs !== undefined) result.threadTs = stored.threadTs;
    if (input.alsoMessageEvent ?? this.messageEventsForMentions) {
      result.messageEvent = this.sendEvent(teamId, this.messageEvent(team, stored));
    }
    return result;
  }

  /** A user (or another bot, with `botId`) posts a message: stored, and a `message` event sent. */
  userMessage(teamId: string, input: UserMessageInput): { ts: string; threadTs?: string; event: SimEnvelope } {
    const team = this.team(teamId);
    const stored = this.storeUserMessage(team, input);
    const result: { ts: string; threadTs?: string; event: SimEnvelope } = {
      ts: stored.ts,
      event: this.sendEvent(teamId, this.messageEvent(team, stored, input.channelType)),
    };
    if (stored.threadTs !== undefined) result.threadTs = stored.threadTs;
    return result;
  }

  // ---------------------------------------------------------------- internals: HTTP

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.baseUrl);
    if (url.pathname.startsWith("/api/")) {
      await this.handleApi(url.pathname.slice("/api/".length), url, req, res);
      return;
    }
    if (url.pathname.startsWith("/response/") && req.method === "POST") {
      await this.handleResponseUrl(url.pathname.slice("/response/".length), req, res);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  }

  private async handleApi(method: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const raw = await readBody(req);
    const params: Record<string, unknown> = {};
    for (const [key, value] of url.searchParams) params[key] = value;
    const contentType = String(req.headers["content-type"] ?? "");
    const call: SimCall = { method, params, time, status: 200, ok: false };
    const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
      call.status = status;
      call.ok = status === 200 && body.ok === true;
      if (typeof body.error === "string") call.error = body.error;
      call.response = body;
      this.callLog.push(call);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (raw.length > 0) {
        if (contentType.includes("application/json")) {
          Object.assign(params, JSON.parse(raw) as Record<string, unknown>);
        } else {
          for (const [key, value] of Object.entries(parseQuery(raw))) params[key] = Array.isArray(value) ? value[0] : value;
        }
      }
    } catch {
      answer(200, { ok: false, error: "invalid_json" });
      return;
    }
    for (const key of ["blocks", "attachments", "metadata"]) {
      const value = params[key];
      if (typeof value === "string" && value.length > 0) {
        try {
          params[key] = JSON.parse(value);
        } catch {
          answer(200, { ok: false, error: key === "blocks" ? "invalid_blocks_format" : "invalid_arguments" });
          return;
        }
      }
    }
    const header = req.headers.authorization;
    let token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!token && typeof params.token === "string") token = params.token;
    delete params.token;
    if (token) call.token = token;
    const team = this.teamForToken(token);
    if (team) call.teamId = team.id;

    const failure = this.takeFailure(method, team?.id);
    if (failure) {
      const spec = failure;
      if ("error" in spec) {
        answer(200, { ok: false, error: spec.error });
      } else if (spec.status === 429) {
        const retryAfterSec = "retryAfterSec" in spec && spec.retryAfterSec !== undefined ? spec.retryAfterSec : 1;
        call.retryAfterSec = retryAfterSec;
        answer(429, { ok: false, error: "ratelimited" }, { "retry-after": String(retryAfterSec) });
      } else {
        call.status = spec.status;
        call.ok = false;
        call.error = `http_${spec.status}`;
        this.callLog.push(call);
        res.writeHead(spec.status, { "content-type": "text/plain" });
        res.end("body" in spec && spec.body !== undefined ? spec.body : "simulated server error");
      }
      return;
    }

    const spec = this.methods[method];
    if (!spec) {
      answer(200, { ok: false, error: "unknown_method" });
      return;
    }
    if (!token) {
      answer(200, { ok: false, error: "not_authed" });
      return;
    }
    const isAppToken = token.startsWith("xapp-");
    if (spec.auth === "app" && !isAppToken) {
      answer(200, { ok: false, error: team ? "not_allowed_token_type" : "invalid_auth" });
      return;
    }
    if (spec.auth === "bot") {
      if (isAppToken) {
        answer(200, { ok: false, error: "not_allowed_token_type" });
        return;
      }
      if (!team) {
        answer(200, { ok: false, error: "invalid_auth" });
        return;
      }
    }

    const limit = this.limits.get(method);
    const limitKey = team ? (limit?.per === "channel" ? `${team.id}:${asString(params.channel) ?? ""}` : team.id) : token;
    if (limit) {
      const retryAfterSec = limit.limiter.retryAfterSec(limitKey, time);
      if (retryAfterSec > 0) {
        call.retryAfterSec = retryAfterSec;
        answer(429, { ok: false, error: "ratelimited" }, { "retry-after": String(retryAfterSec) });
        return;
      }
      limit.limiter.record(limitKey, time);
    }

    const ctx: ApiContext = { method, params, token, team, after: [] };
    let body: Record<string, unknown>;
    try {
      body = { ok: true, ...spec.run(ctx) };
    } catch (error) {
      if (!(error instanceof SimApiError)) throw error;
      body = { ok: false, error: error.code };
    }
    answer(200, body);
    for (const task of ctx.after) setImmediate(task);
  }

  private takeFailure(method: string, teamId: string | undefined): FailSpec | undefined {
    const index = this.failures.findIndex((f) => f.method === method && f.remaining > 0 && (f.teamId === undefined || f.teamId === teamId));
    if (index < 0) return undefined;
    const failure = this.failures[index];
    if (!failure) return undefined;
    failure.remaining -= 1;
    if (failure.remaining <= 0) this.failures.splice(index, 1);
    return failure.spec;
  }

  private async handleResponseUrl(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const state = this.responseUrls.get(id);
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : {};
    } catch {
      const form = parseQuery(raw);
      body = typeof form.payload === "string" ? JSON.parse(form.payload) : form;
    }
    const reply = (status: number, payload: Record<string, unknown>): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (!state) {
      reply(404, { ok: false, error: "invalid_url" });
      return;
    }
    state.uses += 1;
    const status = state.uses > RESPONSE_URL_MAX_USES ? 404 : 200;
    this.responseUrlLog.push({ id, teamId: state.teamId, channel: state.channel, body, time: Date.now(), status });
    if (status !== 200) {
      reply(404, { ok: false, error: "used_url" });
      return;
    }
    const team = this.team(state.teamId);
    const msg = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const text = asString(msg.text) ?? "";
    const blocks = asArray(msg.blocks);
    if (text.length > SLACK_MAX_TEXT) {
      reply(200, { ok: false, error: "msg_too_long" });
      return;
    }
    if (asBool(msg.delete_original) && state.messageTs !== undefined) {
      const original = this.find(team, state.channel, state.messageTs);
      if (original) original.deleted = true;
    } else if (asBool(msg.replace_original) && state.messageTs !== undefined) {
      const original = this.find(team, state.channel, state.messageTs);
      if (original) {
        original.text = text;
        if (blocks) original.blocks = blocks;
        original.versions.push(text);
        original.edits += 1;
      }
    } else if (msg.response_type === "in_channel") {
      const threadTs = asString(msg.thread_ts) ?? state.threadTs;
      const posted = this.storeBotMessage(team, state.channel, { text, blocks, threadTs, params: msg });
      if (this.echoBotPosts) setImmediate(() => this.echo(team, this.messageEvent(team, posted)));
    } else {
      const ephemeral: SimEphemeral = {
        channel: state.channel,
        team: team.id,
        user: state.userId,
        text,
        message_ts: this.nextTs(),
        via: "response_url",
      };
      if (blocks) ephemeral.blocks = blocks;
      team.ephemerals.push(ephemeral);
    }
    reply(200, { ok: true });
  }

  private newResponseUrl(input: Omit<ResponseUrlState, "id" | "uses">): string {
    const id = randomBytes(12).toString("hex");
    this.responseUrls.set(id, { ...input, id, uses: 0 });
    return `${this.baseUrl}/response/${id}`;
  }

  // ---------------------------------------------------------------- internals: Socket Mode

  private onSocket(ws: WebSocket): void {
    this.sockets.push(ws);
    this.hellos += 1;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      this.onFrame(String(data));
    });
    ws.on("close", () => {
      const index = this.sockets.indexOf(ws);
      if (index >= 0) this.sockets.splice(index, 1);
    });
    ws.on("error", () => {
      /* a client going away mid-frame: nothing to do */
    });
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.connectionCount,
        debug_info: { host: "applink-sim", build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    const queued = this.undelivered.splice(0);
    for (const envelope of queued) this.dispatch(envelope, false);
  }

  private onFrame(raw: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      this.unknownAcks.push(raw);
      return;
    }
    const envelopeId = asString(frame.envelope_id);
    const envelope = envelopeId !== undefined ? this.pendingAcks.get(envelopeId) : undefined;
    if (!envelope) {
      this.unknownAcks.push(frame);
      return;
    }
    this.pendingAcks.delete(envelope.envelopeId);
    const payload = frame.payload;
    envelope.settle(payload);
    this.recordAckResponse(envelope, payload);
  }

  /** What Slack does with a command's ack payload: shows its text to the user. */
  private recordAckResponse(envelope: SimEnvelope, payload: unknown): void {
    if (envelope.type !== "slash_commands" || typeof payload !== "object" || payload === null) return;
    const body = payload as Record<string, unknown>;
    const text = asString(body.text);
    const blocks = asArray(body.blocks);
    if (text === undefined && blocks === undefined) return;
    const team = this.team(envelope.teamId);
    const channel = asString(envelope.payload.channel_id) ?? "";
    if (body.response_type === "in_channel") {
      const posted = this.storeBotMessage(team, channel, { text: text ?? "", blocks, params: body });
      if (this.echoBotPosts) setImmediate(() => this.echo(team, this.messageEvent(team, posted)));
      return;
    }
    const ephemeral: SimEphemeral = {
      channel,
      team: team.id,
      user: asString(envelope.payload.user_id) ?? "",
      text: text ?? "",
      message_ts: this.nextTs(),
      via: "ack",
    };
    if (blocks) ephemeral.blocks = blocks;
    team.ephemerals.push(ephemeral);
  }

  private sendEventFrom(teamId: string, event: Record<string, unknown>, options: EventOptions, source: "test" | "echo"): SimEnvelope {
    const payload = this.buildEventPayload(teamId, event, options.eventId, options.eventTime);
    const attempt = options.retryAttempt ?? 0;
    const reason = options.retryReason ?? (attempt > 0 ? "timeout" : "");
    const envelope = new SimEnvelope(randomId("env-", 8).toLowerCase(), "events_api", teamId, payload, attempt, reason, source);
    return this.dispatch(envelope);
  }

  private echo(team: TeamState, event: Record<string, unknown>): void {
    if (this.stopped) return;
    this.sendEventFrom(team.id, event, {}, "echo");
  }

  private dispatch(envelope: SimEnvelope, log = true): SimEnvelope {
    if (log) this.envelopeLog.push(envelope);
    if (this.stopped) return envelope;
    if (this.httpDelivery) {
      void this.deliverHttp(envelope, this.httpDelivery);
      return envelope;
    }
    const open = this.sockets.filter((ws) => ws.readyState === WebSocket.OPEN);
    const ws = open[open.length - 1];
    if (!ws) {
      this.undelivered.push(envelope);
      return envelope;
    }
    this.pendingAcks.set(envelope.envelopeId, envelope);
    envelope.sentAt = performance.now();
    ws.send(JSON.stringify(envelope.toFrame()));
    return envelope;
  }

  private async deliverHttp(envelope: SimEnvelope, target: HttpDelivery): Promise<void> {
    let body: string;
    let contentType: string;
    const headers: Record<string, string> = {};
    if (envelope.type === "events_api") {
      body = JSON.stringify(envelope.payload);
      contentType = "application/json";
      if (envelope.retryAttempt > 0) {
        headers["x-slack-retry-num"] = String(envelope.retryAttempt);
        headers["x-slack-retry-reason"] = envelope.retryReason;
      }
    } else if (envelope.type === "slash_commands") {
      const flat: Record<string, string> = {};
      for (const [key, value] of Object.entries(envelope.payload)) {
        if (value !== undefined && value !== null) flat[key] = typeof value === "string" ? value : JSON.stringify(value);
      }
      body = stringifyQuery(flat);
      contentType = "application/x-www-form-urlencoded";
    } else {
      body = stringifyQuery({ payload: JSON.stringify(envelope.payload) });
      contentType = "application/x-www-form-urlencoded";
    }
    Object.assign(headers, signSlackRequest(target.signingSecret, body), { "content-type": contentType });
    envelope.sentAt = performance.now();
    try {
      const response = await fetch(target.url, { method: "POST", headers, body });
      const text = await response.text();
      let payload: unknown = text.length > 0 ? text : undefined;
      try {
        if (text.length > 0) payload = JSON.parse(text);
      } catch {
        /* plain text ack */
      }
      envelope.settle(payload, response.status);
      if (response.status >= 200 && response.status < 300) this.recordAckResponse(envelope, payload);
    } catch (error) {
      envelope.settle(error instanceof Error ? error.message : String(error), 0);
    }
  }

  // ---------------------------------------------------------------- internals: state

  private team(teamId: string): TeamState {
    const team = this.teams.get(teamId);
    if (!team) throw new Error(`SlackSimulator: unknown team ${teamId}`);
    return team;
  }

  private teamForToken(token: string): TeamState | undefined {
    if (!token) return undefined;
    const explicit = this.tokenTeams.get(token);
    if (explicit !== undefined) return this.teams.get(explicit);
    const match = /^xoxb-([^-]+)(?:-|$)/.exec(token);
    return match?.[1] !== undefined ? this.teams.get(match[1]) : undefined;
  }

  private ensureChannel(team: TeamState, id: string, name?: string): ChannelState {
    let channel = team.channels.get(id);
    if (!channel) {
      this.addChannel(team.id, name !== undefined ? { id, name } : { id });
      channel = team.channels.get(id) as ChannelState;
    }
    return channel;
  }

  private ensureUser(team: TeamState, id: string, name?: string): void {
    if (!team.users.has(id)) this.addUser(team.id, name !== undefined ? { id, name } : { id });
  }

  /** A Slack ts: unique and increasing across the simulator. */
  private nextTs(): string {
    this.lastMicros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    const sec = Math.floor(this.lastMicros / 1_000_000);
    const micros = this.lastMicros % 1_000_000;
    return `${sec}.${String(micros).padStart(6, "0")}`;
  }

  private find(team: TeamState, channel: string, ts: string): StoredMessage | undefined {
    return team.messages.get(channel)?.find((m) => m.ts === ts);
  }

  private insert(team: TeamState, message: StoredMessage): void {
    let list = team.messages.get(message.channel);
    if (!list) {
      list = [];
      team.messages.set(message.channel, list);
    }
    list.push(message);
    list.sort((a, b) => compareTs(a.ts, b.ts));
  }

  /** Maps a reply's ts to its parent's, and counts the reply on the parent. */
  private attachToThread(
    team: TeamState,
    channel: string,
    threadTs: string | undefined,
    author: string | undefined,
    ts: string,
  ): string | undefined {
    if (threadTs === undefined || threadTs === "") return undefined;
    const target = this.find(team, channel, threadTs);
    const parentTs = target?.threadTs ?? threadTs;
    const parent = target?.threadTs !== undefined ? this.find(team, channel, parentTs) : target;
    if (parent) {
      parent.replyCount += 1;
      if (author !== undefined) parent.replyUsers.add(author);
      parent.latestReply = ts;
    }
    return parentTs;
  }

  private storeUserMessage(team: TeamState, input: UserMessageInput): StoredMessage {
    this.ensureUser(team, input.user);
    this.ensureChannel(team, input.channel);
    if (input.channelType !== undefined) {
      const channel = team.channels.get(input.channel);
      if (channel) channel.type = input.channelType;
    }
    const ts = this.nextTs();
    const message: StoredMessage = {
      ts,
      channel: input.channel,
      team: team.id,
      text: input.text,
      blocks: richTextBlocks(input.text),
      user: input.user,
      versions: [input.text],
      edits: 0,
      deleted: false,
      replyCount: 0,
      replyUsers: new Set(),
      reactions: new Map(),
      postParams: {},
      clientMsgId: randomBytes(16)
        .toString("hex")
        .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, "$1-$2-$3-$4-$5"),
    };
    if (input.botId !== undefined) {
      message.botId = input.botId;
      message.appId = "A0OTHERAPP";
      delete message.clientMsgId;
    }
    if (input.subtype !== undefined) message.subtype = input.subtype;
    const threadTs = this.attachToThread(team, input.channel, input.threadTs, input.user, ts);
    if (threadTs !== undefined) message.threadTs = threadTs;
    this.insert(team, message);
    return message;
  }

  private storeBotMessage(
    team: TeamState,
    channel: string,
    input: {
      text: string;
      blocks?: unknown[] | undefined;
      attachments?: unknown[] | undefined;
      threadTs?: string | undefined;
      replyBroadcast?: boolean;
      params: Record<string, unknown>;
    },
  ): StoredMessage {
    this.ensureChannel(team, channel);
    const ts = this.nextTs();
    const message: StoredMessage = {
      ts,
      channel,
      team: team.id,
      text: input.text,
      user: team.botUserId,
      botId: team.botId,
      appId: this.appId,
      versions: [input.text],
      edits: 0,
      deleted: false,
      replyCount: 0,
      replyUsers: new Set(),
      reactions: new Map(),
      postParams: { ...input.params },
    };
    if (input.blocks) message.blocks = input.blocks;
    if (input.attachments) message.attachments = input.attachments;
    const threadTs = this.attachToThread(team, channel, input.threadTs, team.botUserId, ts);
    if (threadTs !== undefined) {
      message.threadTs = threadTs;
      if (input.replyBroadcast) {
        message.replyBroadcast = true;
        message.subtype = "thread_broadcast";
      }
    }
    this.insert(team, message);
    return message;
  }

  private view(m: StoredMessage): SimMessage {
    const threadTs = m.threadTs ?? (m.replyCount > 0 ? m.ts : undefined);
    const view: SimMessage = {
      ts: m.ts,
      channel: m.channel,
      team: m.team,
      reply: m.threadTs !== undefined,
      text: m.text,
      edits: m.edits,
      versions: [...m.versions],
      deleted: m.deleted,
      reply_count: m.replyCount,
      reactions: [...m.reactions].map(([name, users]) => ({ name, users: [...users], count: users.length })),
      postParams: { ...m.postParams },
    };
    if (threadTs !== undefined) view.thread_ts = threadTs;
    if (m.blocks) view.blocks = m.blocks;
    if (m.attachments) view.attachments = m.attachments;
    if (m.user !== undefined) view.user = m.user;
    if (m.botId !== undefined) view.bot_id = m.botId;
    if (m.appId !== undefined) view.app_id = m.appId;
    if (m.subtype !== undefined) view.subtype = m.subtype;
    if (m.replyBroadcast) view.reply_broadcast = true;
    return view;
  }

  /** A message object as the Web API and events show it. */
  private slackShape(m: StoredMessage, team: TeamState): Record<string, unknown> {
    const shape: Record<string, unknown> = { type: "message" };
    if (m.subtype !== undefined) shape.subtype = m.subtype;
    shape.text = m.text;
    if (m.user !== undefined) shape.user = m.user;
    if (m.botId !== undefined) {
      shape.bot_id = m.botId;
      shape.app_id = m.appId;
      shape.bot_profile = {
        id: m.botId,
        app_id: m.appId,
        name: m.botId === team.botId ? this.botName : "otherbot",
        team_id: team.id,
        deleted: false,
      };
    }
    if (m.clientMsgId !== undefined) shape.client_msg_id = m.clientMsgId;
    shape.ts = m.ts;
    if (m.threadTs !== undefined) {
      shape.thread_ts = m.threadTs;
      const parent = this.find(team, m.channel, m.threadTs);
      if (parent?.user !== undefined) shape.parent_user_id = parent.user;
    } else if (m.replyCount > 0) {
      shape.thread_ts = m.ts;
      shape.reply_count = m.replyCount;
      shape.reply_users = [...m.replyUsers];
      shape.reply_users_count = m.replyUsers.size;
      shape.latest_reply = m.latestReply;
    }
    if (m.editedTs !== undefined) shape.edited = { user: m.user, ts: m.editedTs };
    if (m.blocks) shape.blocks = m.blocks;
    if (m.attachments) shape.attachments = m.attachments;
    if (m.reactions.size > 0) {
      shape.reactions = [...m.reactions].map(([name, users]) => ({ name, users: [...users], count: users.length }));
    }
    shape.team = team.id;
    return shape;
  }

  /** The `message` event for a stored message. */
  private messageEvent(team: TeamState, m: StoredMessage, channelType?: ChannelType): Record<string, unknown> {
    return {
      ...this.slackShape(m, team),
      channel: m.channel,
      event_ts: m.ts,
      channel_type: channelType ?? team.channels.get(m.channel)?.type ?? channelTypeOf(m.channel),
    };
  }

  // ---------------------------------------------------------------- internals: Web API methods

  private buildMethods(): Record<string, MethodSpec> {
    const bot = (run: (ctx: ApiContext & { team: TeamState }) => Record<string, unknown>): MethodSpec => ({
      auth: "bot",
      run: (ctx) => run(ctx as ApiContext & { team: TeamState }),
    });
    const requireString = (params: Record<string, unknown>, key: string, error: string): string => {
      const value = asString(params[key]);
      if (value === undefined || value === "") throw new SimApiError(error);
      return value;
    };
    const existing = (team: TeamState, channel: string, ts: string): StoredMessage => {
      const message = this.find(team, channel, ts);
      if (!message || message.deleted) throw new SimApiError("message_not_found");
      return message;
    };
    const checkText = (text: string | undefined, blocks: unknown[] | undefined, attachments: unknown[] | undefined): void => {
      if ((text === undefined || text === "") && !blocks?.length && !attachments?.length) throw new SimApiError("no_text");
      if (text !== undefined && text.length > SLACK_MAX_TEXT) throw new SimApiError("msg_too_long");
      validateBlocks(blocks);
    };
    const channelInfo = (team: TeamState, c: ChannelState): Record<string, unknown> => ({
      id: c.id,
      name: c.name,
      is_channel: c.type === "channel",
      is_group: c.type === "group",
      is_im: c.type === "im",
      is_mpim: c.type === "mpim",
      is_private: c.type !== "channel",
      is_archived: false,
      is_general: c.name === "general",
      is_member: true,
      created: c.created,
      context_team_id: team.id,
      ...(c.user !== undefined ? { user: c.user } : {}),
    });

    return {
      "auth.test": bot(({ team }) => ({
        url: `https://${team.domain}.slack.com/`,
        team: team.name,
        user: this.botName,
        team_id: team.id,
        user_id: team.botUserId,
        bot_id: team.botId,
        is_enterprise_install: false,
      })),
      "apps.connections.open": {
        auth: "app",
        run: () => {
          const ticket = randomBytes(16).toString("hex");
          this.tickets.add(ticket);
          return { url: `ws://127.0.0.1:${this.port}/link/?ticket=${ticket}&app_id=${this.appId}` };
        },
      },
      "chat.postMessage": bot(({ team, params, after }) => {
        const channel = requireString(params, "channel", "channel_not_found");
        const text = asString(params.text);
        const blocks = asArray(params.blocks);
        const attachments = asArray(params.attachments);
        checkText(text, blocks, attachments);
        const message = this.storeBotMessage(team, channel, {
          text: text ?? "",
          blocks,
          attachments,
          threadTs: asString(params.thread_ts),
          replyBroadcast: asBool(params.reply_broadcast) ?? false,
          params,
        });
        if (this.echoBotPosts) after.push(() => this.echo(team, this.messageEvent(team, message)));
        return { channel, ts: message.ts, message: this.slackShape(message, team) };
      }),
      "chat.update": bot(({ team, params, after }) => {
        const channel = requireString(params, "channel", "channel_not_found");
        const ts = requireString(params, "ts", "message_not_found");
        const message = existing(team, channel, ts);
        if (message.botId !== team.botId) throw new SimApiError("cant_update_message");
        const text = asString(params.text);
        const blocks = asArray(params.blocks);
        const attachments = asArray(params.attachments);
        checkText(text ?? (blocks || attachments ? undefined : ""), blocks, attachments);
        const previous = this.slackShape(message, team);
        if (text !== undefined) message.text = text;
        if (blocks !== undefined) message.blocks = blocks;
        if (attachments !== undefined) message.attachments = attachments;
        message.versions.push(message.text);
        message.edits += 1;
        const editTs = this.nextTs();
        message.editedTs = editTs;
        if (this.echoBotEdits) {
          const current = this.slackShape(message, team);
          after.push(() =>
            this.echo(team, {
              type: "message",
              subtype: "message_changed",
              hidden: true,
              message: current,
              channel,
              previous_message: previous,
              event_ts: editTs,
              ts: editTs,
              channel_type: team.channels.get(channel)?.type ?? channelTypeOf(channel),
            }),
          );
        }
        return { channel, ts, text: message.text, message: this.slackShape(message, team) };
      }),
      "chat.delete": bot(({ team, params, after }) => {
        const channel = requireString(params, "channel", "channel_not_found");
        const ts = requireString(params, "ts", "message_not_found");
        const message = existing(team, channel, ts);
        if (message.botId !== team.botId) throw new SimApiError("cant_delete_message");
        const previous = this.slackShape(message, team);
        message.deleted = true;
        if (this.echoBotEdits) {
          const eventTs = this.nextTs();
          after.push(() =>
            this.echo(team, {
              type: "message",
              subtype: "message_deleted",
              hidden: true,
              deleted_ts: ts,
              channel,
              previous_message: previous,
              event_ts: eventTs,
              ts: eventTs,
              channel_type: team.channels.get(channel)?.type ?? channelTypeOf(channel),
            }),
          );
        }
        return { channel, ts };
      }),
      "chat.postEphemeral": bot(({ team, params }) => {
        const channel = requireString(params, "channel", "channel_not_found");
        const user = requireString(params, "user", "user_not_found");
        const text = asString(params.text);
        const blocks = asArray(params.blocks);
        checkText(text, blocks, asArray(params.attachments));
        this.ensureChannel(team, channel);
        const ephemeral: SimEphemeral = { channel, team: team.id, user, text: text ?? "", message_ts: this.nextTs(), via: "api" };
        if (blocks) ephemeral.blocks = blocks;
        const threadTs = asString(params.thread_ts);
        if (threadTs !== undefined) ephemeral.thread_ts = threadTs;
        team.ephemerals.push(ephemeral);
        return { message_ts: ephemeral.message_ts };
      }),
      "chat.getPermalink": bot(({ team, params }) => {
        const channel = requireString(params, "channel", "channel_not_found");
        const ts = requireString(params, "message_ts", "message_not_found");
        existing(team, channel, ts);
        return { channel, permalink: `https://${team.domain}.slack.com/archives/${channel}/p${ts.replace(".", "")}` };
      }),
      "conversations.info": bot(({ team, params }) => {
        const id = requireString(params, "channel", "channel_not_found");
        const channel = team.channels.get(id);
        if (!channel) throw new SimApiError("channel_not_found");
        return { channel: channelInfo(team, channel) };
      }),
      "conversations.history": bot(({ team, params }) => {
        const id = requireString(params, "channel", "channel_not_found");
        if (!team.channels.has(id)) throw new SimApiError("channel_not_found");
        const limit = Number(params.limit ?? 100) || 100;
        const list = (team.messages.get(id) ?? []).filter((m) => !m.deleted && (m.threadTs === undefined || m.replyBroadcast));
        const newestFirst = [...list].reverse().slice(0, limit);
        return { messages: newestFirst.map((m) => this.slackShape(m, team)), has_more: list.length > limit };
      }),
      "conversations.replies": bot(({ team, params }) => {
        const id = requireString(params, "channel", "channel_not_found");
        if (!team.channels.has(id)) throw new SimApiError("channel_not_found");
        const ts = requireString(params, "ts", "thread_not_found");
        const target = this.find(team, id, ts);
        if (!target) throw new SimApiError("thread_not_found");
        const parentTs = target.threadTs ?? target.ts;
        const limit = Number(params.limit ?? 1000) || 1000;
        const list = (team.messages.get(id) ?? []).filter((m) => !m.deleted && (m.ts === parentTs || m.threadTs === parentTs));
        return { messages: list.slice(0, limit).map((m) => this.slackShape(m, team)), has_more: list.length > limit };
      }),
      "users.info": bot(({ team, params }) => {
        const id = requireString(params, "user", "user_not_found");
        const user = team.users.get(id);
        if (!user) throw new SimApiError("user_not_found");
        return {
          user: {
            id: user.id,
            team_id: team.id,
            name: user.name,
            real_name: user.realName,
            deleted: false,
            is_bot: user.isBot,
            is_app_user: false,
            tz: "Europe/Amsterdam",
            profile: {
              real_name: user.realName,
              display_name: user.name,
              ...(user.botId !== undefined ? { bot_id: user.botId } : {}),
            },
          },
        };
      }),
      "reactions.add": bot(({ team, params }) => {
        const channel = requireString(params, "channel", "channel_not_found");
        const ts = requireString(params, "timestamp", "message_not_found");
        const name = requireString(params, "name", "invalid_name");
        const message = existing(team, channel, ts);
        const users = message.reactions.get(name) ?? [];
        if (users.includes(team.botUserId)) throw new SimApiError("already_reacted");
        message.reactions.set(name, [...users, team.botUserId]);
        return {};
      }),
      "reactions.remove": bot(({ team, params }) => {
        const channel = requireString(params, "channel", "channel_not_found");
        const ts = requireString(params, "timestamp", "message_not_found");
        const name = requireString(params, "name", "invalid_name");
        const message = existing(team, channel, ts);
        const users = message.reactions.get(name) ?? [];
        if (!users.includes(team.botUserId)) throw new SimApiError("no_reaction");
        const rest = users.filter((u) => u !== team.botUserId);
        if (rest.length > 0) message.reactions.set(name, rest);
        else message.reactions.delete(name);
        return {};
      }),
    };
  }
}
