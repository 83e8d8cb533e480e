/**
 * A Slack workspace (or several) on loopback, for tests: the Web API methods a bot uses, Socket Mode
 * over a WebSocket, `response_url`s, rate limits on demand, and a record of everything, so a test can
 * drive the real `@slack/bolt` App and assert on what a user would see.
 *
 * This class is the facade tests use; the work is done in state/ (workspaces, messages, how they
 * look), methods/ (one file per Web API family), http/ (the Web API dispatcher with scripted
 * failures and rate limits, response_urls), delivery/ (Socket Mode, or signed HTTP to the app),
 * events/ (the payloads Slack sends) and actions/ (what a test makes a user do). See README.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { clickButton, userMentions, userMessage } from "./actions/userActions.ts";
import type { SimEnvelope } from "./delivery/SimEnvelope.ts";
import { SocketModeServer } from "./delivery/SocketModeServer.ts";
import { EventSender } from "./events/EventSender.ts";
import { buildEventPayload, buildInteractivePayload, buildSlashCommandPayload } from "./events/payloads.ts";
import { ResponseUrls } from "./http/ResponseUrls.ts";
import { WebApi } from "./http/WebApi.ts";
import { buildMethods } from "./methods/index.ts";
import { messageView } from "./state/messageShapes.ts";
import { SlackState } from "./state/SlackState.ts";
import type {
  ChannelType,
  ClickButtonInput,
  EnvelopeAck,
  EnvelopeType,
  EventOptions,
  FailSpec,
  MessagesOptions,
  MethodLimit,
  SimCall,
  SimEphemeral,
  SimMessage,
  SimResponseUrlPost,
  SimTeamOptions,
  SlackSimulatorOptions,
  SlashCommandInput,
  UserMentionInput,
  UserMessageInput,
} from "./types.ts";
import { type WaitForOptions, waitFor } from "./waitFor.ts";

export { SimEnvelope } from "./delivery/SimEnvelope.ts";
export { RESPONSE_URL_MAX_USES } from "./http/ResponseUrls.ts";
export { SLACK_MAX_BLOCKS, SLACK_MAX_MARKDOWN_BLOCK_TEXT, SLACK_MAX_SECTION_TEXT, SLACK_MAX_TEXT } from "./methods/limits.ts";
export type { PostSignedOptions, PostSignedResult } from "./postSigned.ts";
export { postSigned } from "./postSigned.ts";
export { signSlackRequest } from "./signSlackRequest.ts";
export type * from "./types.ts";
export { waitFor } from "./waitFor.ts";

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

  private readonly server: Server;
  private readonly state: SlackState;
  private readonly webApi: WebApi;
  private readonly responseUrls: ResponseUrls;
  private readonly delivery: SocketModeServer;
  private readonly events: EventSender;

  private constructor(server: Server, port: number, options: SlackSimulatorOptions) {
    this.server = server;
    this.port = port;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.apiUrl = `${this.baseUrl}/api/`;
    const state = new SlackState(this.baseUrl, port, options);
    this.state = state;
    this.appId = state.appId;
    this.botUserId = state.botUserId;
    this.botId = state.botId;
    this.botName = state.botName;
    this.verificationToken = state.verificationToken;
    for (const team of options.teams ?? [{ id: "T1" }]) this.addTeam(team);
    this.delivery = new SocketModeServer(state.appId, this.baseUrl, options.serverPingIntervalMs ?? 0, (envelope, payload) =>
      this.events.recordAckResponse(envelope, payload),
    );
    this.responseUrls = new ResponseUrls(state, (team, event) => this.events.echo(team, event));
    this.events = new EventSender(state, this.delivery, this.responseUrls);
    const methods = buildMethods({
      state,
      echo: (team, event) => this.events.echo(team, event),
      openSocketUrl: () => this.delivery.openUrl(port),
    });
    this.webApi = new WebApi(state, methods);
    server.on("request", (req, res) => {
      this.onRequest(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(error instanceof Error ? error.message : String(error));
      });
    });
    server.on("upgrade", (req: IncomingMessage, socket, head) => this.delivery.handleUpgrade(req, socket, head));
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
    if (this.delivery.stopped) return;
    await this.delivery.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Send a `message` event (with bot_id, user = bot user) for every message the bot posts. Toggle at will. */
  get echoBotPosts(): boolean {
    return this.state.settings.echoBotPosts;
  }

  set echoBotPosts(on: boolean) {
    this.state.settings.echoBotPosts = on;
  }

  /** Send a `message_changed` (and `message_deleted`) event for every edit (delete) the bot makes. Toggle at will. */
  get echoBotEdits(): boolean {
    return this.state.settings.echoBotEdits;
  }

  set echoBotEdits(on: boolean) {
    this.state.settings.echoBotEdits = on;
  }

  /** `userMentions` also sends the plain `message` event. Toggle at will. */
  get messageEventsForMentions(): boolean {
    return this.state.settings.messageEventsForMentions;
  }

  set messageEventsForMentions(on: boolean) {
    this.state.settings.messageEventsForMentions = on;
  }

  // ---------------------------------------------------------------- workspace setup

  addTeam(team: SimTeamOptions): void {
    this.state.workspaces.addTeam(team);
  }

  /** Any token can be made a bot token of a workspace (besides the `xoxb-<team>-…` convention). */
  registerBotToken(token: string, teamId: string): void {
    this.state.workspaces.registerBotToken(token, teamId);
  }

  addChannel(teamId: string, channel: { id: string; name?: string; type?: ChannelType; user?: string }): void {
    this.state.workspaces.addChannel(teamId, channel);
  }

  addUser(teamId: string, user: { id: string; name?: string; realName?: string; isBot?: boolean }): void {
    this.state.workspaces.addUser(teamId, user);
  }

  /** The bot user id in a workspace. */
  botUserIdFor(teamId: string): string {
    return this.state.team(teamId).botUserId;
  }

  botIdFor(teamId: string): string {
    return this.state.team(teamId).botId;
  }

  // ---------------------------------------------------------------- rate limits and failures

  /** e.g. `setMethodLimit("chat.update", { perMinute: 50 })`: Tier-3-like, per workspace. */
  setMethodLimit(method: string, limit: MethodLimit): void {
    this.webApi.faults.setMethodLimit(method, limit);
  }

  clearMethodLimit(method: string): void {
    this.webApi.faults.clearMethodLimit(method);
  }

  /**
   * The next `times` calls of `method` (in `teamId`, if given) fail: `{status: 429, retryAfterSec}` →
   * HTTP 429 with Retry-After; `{status: 500}` → that HTTP status; `{error}` → 200 `{ok:false, error}`.
   */
  failNext(method: string, spec: FailSpec, times = 1, options: { teamId?: string } = {}): void {
    this.webApi.faults.failNext(method, spec, times, options.teamId);
  }

  // ---------------------------------------------------------------- what happened

  /** Web API calls, oldest first; filter by method and/or workspace. */
  calls(method?: string, teamId?: string): SimCall[] {
    return this.webApi.callLog.filter(
      (c) => (method === undefined || c.method === method) && (teamId === undefined || c.teamId === teamId),
    );
  }

  /** Calls answered with HTTP 429. */
  rateLimited(method?: string, teamId?: string): SimCall[] {
    return this.calls(method, teamId).filter((c) => c.status === 429);
  }

  /** Calls to methods the simulator does not know. */
  unknownMethods(): SimCall[] {
    return this.webApi.callLog.filter((c) => c.error === "unknown_method");
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
    return this.delivery.envelopeLog.filter((e) => type === undefined || e.type === type);
  }

  /** Acks received so far. */
  acks(): EnvelopeAck[] {
    return this.delivery.envelopeLog.flatMap((e) => (e.ack ? [e.ack] : []));
  }

  /** Acks for envelope ids the simulator never sent (or already acked). */
  strayAcks(): unknown[] {
    return [...this.delivery.unknownAcks];
  }

  /** Messages in a channel (thread replies included), in ts order. */
  messages(teamId: string, channel: string, options: MessagesOptions = {}): SimMessage[] {
    const team = this.state.team(teamId);
    return (team.messages.get(channel) ?? []).filter((m) => options.includeDeleted || !m.deleted).map((m) => messageView(m));
  }

  /** A thread: its parent, then its replies, in ts order. */
  thread(teamId: string, channel: string, threadTs: string, options: MessagesOptions = {}): SimMessage[] {
    return this.messages(teamId, channel, options).filter((m) => m.ts === threadTs || m.thread_ts === threadTs);
  }

  /** One message, by ts. */
  message(teamId: string, channel: string, ts: string): SimMessage | undefined {
    const stored = this.state.messages.find(this.state.team(teamId), channel, ts);
    return stored ? messageView(stored) : undefined;
  }

  /** Every text version of a message, first to last. */
  history(teamId: string, channel: string, ts: string): string[] {
    const stored = this.state.messages.find(this.state.team(teamId), channel, ts);
    return stored ? [...stored.versions] : [];
  }

  /** Ephemeral messages (chat.postEphemeral, ephemeral response_url posts, command ack texts). */
  ephemerals(teamId: string, channel?: string): SimEphemeral[] {
    return this.state.team(teamId).ephemerals.filter((e) => channel === undefined || e.channel === channel);
  }

  /** Posts to response_urls, oldest first. */
  responseUrlPosts(): SimResponseUrlPost[] {
    return [...this.responseUrls.log];
  }

  /** Open Socket Mode connections. */
  get connectionCount(): number {
    return this.delivery.connectionCount;
  }

  /** Socket Mode connections made so far (hellos sent). */
  get connectCount(): number {
    return this.delivery.connectCount;
  }

  waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, options?: WaitForOptions): Promise<NonNullable<T>> {
    return waitFor(predicate, timeoutMs, options);
  }

  /** Resolves once `count` Socket Mode connections have been made in total. */
  async waitForConnect(count = 1, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.delivery.connectCount >= count && this.delivery.connectionCount > 0, timeoutMs, {
      message: `${count} socket mode connection(s)`,
    });
  }

  // ---------------------------------------------------------------- delivery to the app

  /**
   * Deliver envelopes as HTTP requests signed with `signingSecret` to `url` (an app in HTTP mode)
   * instead of over Socket Mode; `undefined` switches back. Acks then carry the HTTP status.
   */
  setHttpDelivery(target: { url: string; signingSecret: string } | undefined): void {
    this.delivery.httpDelivery = target;
  }

  /** Sends an `events_api` envelope carrying `event` (an event_callback) from `teamId`. */
  sendEvent(teamId: string, event: Record<string, unknown>, options: EventOptions = {}): SimEnvelope {
    return this.events.sendEvent(teamId, event, options, "test");
  }

  /** The event_callback body Slack would send for `event` (for HTTP-mode tests). */
  buildEventPayload(teamId: string, event: Record<string, unknown>, eventId?: string, eventTime?: number): Record<string, unknown> {
    return buildEventPayload(this.state, teamId, event, eventId, eventTime);
  }

  /** Sends a `slash_commands` envelope (accepts_response_payload: true). */
  sendSlashCommand(teamId: string, command: SlashCommandInput): SimEnvelope {
    return this.events.sendSlashCommand(teamId, command);
  }

  /** The fields of a slash command as Slack sends them, with a fresh response_url and trigger_id. */
  buildSlashCommandPayload(teamId: string, command: SlashCommandInput): Record<string, unknown> {
    return buildSlashCommandPayload(this.state, this.responseUrls, teamId, command);
  }

  /** Sends an `interactive` envelope; missing fields get Slack-like defaults (block_actions). */
  sendInteractive(teamId: string, payload: Record<string, unknown>): SimEnvelope {
    return this.events.sendInteractive(teamId, payload);
  }

  /** An interactive payload as Slack sends it: defaults, then `payload` over them. */
  buildInteractivePayload(teamId: string, payload: Record<string, unknown>): Record<string, unknown> {
    return buildInteractivePayload(this.state, this.responseUrls, teamId, payload);
  }

  /** A user clicks a button (block_actions) on a message the simulator holds. */
  clickButton(teamId: string, input: ClickButtonInput): SimEnvelope {
    return clickButton(this.state, this.events, teamId, input);
  }

  /** Sends the same payload again (same event_id) in a new envelope, retry_attempt + 1. */
  redeliver(envelope: SimEnvelope, options: { retryReason?: string } = {}): SimEnvelope {
    return this.events.redeliver(envelope, options);
  }

  /** Asks every Socket Mode client to reconnect (`{type: "disconnect"}`). */
  sendDisconnect(reason = "refresh_requested"): void {
    this.delivery.broadcast({ type: "disconnect", reason, debug_info: { host: "applink-sim" } });
  }

  /** Cuts every Socket Mode connection without a close frame. */
  dropSocket(): void {
    this.delivery.dropSockets();
  }

  /** Sends any JSON frame to every Socket Mode client. */
  broadcast(frame: Record<string, unknown>): void {
    this.delivery.broadcast(frame);
  }

  // ---------------------------------------------------------------- users doing things

  /**
   * A user mentions the bot: the message is stored (with a ts) and an `app_mention` event sent
   * (plus the `message` event, when `messageEventsForMentions`).
   */
  userMentions(teamId: string, input: UserMentionInput): { ts: string; threadTs?: string; event: SimEnvelope; messageEvent?: SimEnvelope } {
    return userMentions(this.state, this.events, teamId, input);
  }

  /** A user (or another bot, with `botId`) posts a message: stored, and a `message` event sent. */
  userMessage(teamId: string, input: UserMessageInput): { ts: string; threadTs?: string; event: SimEnvelope } {
    return userMessage(this.state, this.events, teamId, input);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.baseUrl);
    if (url.pathname.startsWith("/api/")) {
      await this.webApi.handle(url.pathname.slice("/api/".length), url, req, res);
      return;
    }
    if (url.pathname.startsWith("/response/") && req.method === "POST") {
      await this.responseUrls.handle(url.pathname.slice("/response/".length), req, res);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  }
}
