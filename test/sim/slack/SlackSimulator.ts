/**
 * A Slack workspace (or several) on loopback, for tests: the Web API methods a bot uses, Socket Mode
 * over a WebSocket, `response_url`s, rate limits on demand, and a record of everything, so a test can
 * drive the real `@slack/bolt` App and assert on what a user would see.
 *
 * This class is the facade tests use; the work is done in state/ (workspaces, messages, files,
 * assistant threads, views, how they look), methods/ (one file per Web API family; catalog.ts holds
 * tiers and scopes), http/ (the Web API dispatcher with scripted failures and rate limits,
 * response_urls, file uploads and downloads), delivery/ (Socket Mode, or signed HTTP to the app),
 * events/ (the payloads Slack sends) and actions/ (what a test makes a user do). See README.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AssistantContextInput,
  type AssistantThreadResult,
  changeAssistantContext,
  type OpenAssistantInput,
  openAssistantThread,
} from "./actions/assistantActions.ts";
import {
  clickButton,
  deleteMessage,
  type UserMentionResult,
  type UserMessageResult,
  userEdits,
  userMentions,
  userMessage,
} from "./actions/userActions.ts";
import { closeView, submitView, type ViewValues } from "./actions/viewActions.ts";
import type { SimEnvelope } from "./delivery/SimEnvelope.ts";
import { SocketModeServer } from "./delivery/SocketModeServer.ts";
import { EventSender } from "./events/EventSender.ts";
import { buildEventPayload, buildInteractivePayload, buildSlashCommandPayload } from "./events/payloads.ts";
import { FileServer } from "./http/FileServer.ts";
import { ResponseUrls } from "./http/ResponseUrls.ts";
import { WebApi } from "./http/WebApi.ts";
import { buildMethods } from "./methods/index.ts";
import { messageView } from "./state/messageShapes.ts";
import { SlackState } from "./state/SlackState.ts";
import type { AddChannelInput, AddUserInput } from "./state/Workspaces.ts";
import type {
  ClickButtonInput,
  EnvelopeAck,
  EnvelopeType,
  EventOptions,
  FailSpec,
  FileFault,
  MessagesOptions,
  MethodLimit,
  RateTierMode,
  SimAssistantThread,
  SimCall,
  SimEphemeral,
  SimFileDownload,
  SimFileView,
  SimMessage,
  SimResponseUrlPost,
  SimTeamOptions,
  SimView,
  SlackSimulatorOptions,
  SlashCommandInput,
  UserMentionInput,
  UserMessageInput,
} from "./types.ts";
import { type WaitForOptions, waitFor } from "./waitFor.ts";

export type { AssistantContextInput, AssistantThreadResult, OpenAssistantInput } from "./actions/assistantActions.ts";
export type { UserMentionResult, UserMessageResult } from "./actions/userActions.ts";
export type { ViewValues } from "./actions/viewActions.ts";
export { SimEnvelope } from "./delivery/SimEnvelope.ts";
export { RESPONSE_URL_MAX_USES } from "./http/ResponseUrls.ts";
export { ASSISTANT_MAX_LOADING_MESSAGES, ASSISTANT_MAX_PROMPTS } from "./methods/assistant.ts";
export { ASSISTANT_METHODS, METHOD_FACTS, STREAMING_METHODS, TIER_PER_MINUTE } from "./methods/catalog.ts";
export { NON_MARKETPLACE_PAGE_LIMIT } from "./methods/conversations.ts";
export {
  SLACK_MAX_BLOCKS,
  SLACK_MAX_MARKDOWN_BLOCK_TEXT,
  SLACK_MAX_MARKDOWN_TEXT,
  SLACK_MAX_SECTION_TEXT,
  SLACK_MAX_TEXT,
} from "./methods/limits.ts";
export { VIEW_MAX_BLOCKS, VIEW_MAX_TITLE } from "./methods/views.ts";
export type { PostSignedOptions, PostSignedResult } from "./postSigned.ts";
export { postSigned } from "./postSigned.ts";
export { signSlackRequest } from "./signSlackRequest.ts";
export type { AddChannelInput, AddUserInput } from "./state/Workspaces.ts";
export { SLACK_MAX_UPLOAD_BYTES } from "./state/Workspaces.ts";
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
  private readonly fileServer: FileServer;

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
    this.fileServer = new FileServer(state);
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
    this.webApi.close();
    this.fileServer.close();
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

  /** With echoBotEdits, also send a `message_changed` for every chat.appendStream. Toggle at will. */
  get echoStreamAppends(): boolean {
    return this.state.settings.echoStreamAppends;
  }

  set echoStreamAppends(on: boolean) {
    this.state.settings.echoStreamAppends = on;
  }

  /** Which methods Slack's rate tiers apply to: "new" (default), "all", "off". Settable at any time. */
  get rateTiers(): RateTierMode {
    return this.state.settings.rateTiers;
  }

  set rateTiers(mode: RateTierMode) {
    this.state.settings.rateTiers = mode;
  }

  /** Non-Marketplace app rules: conversations.history/.replies 1 call a minute, 15 messages a page. */
  get nonMarketplaceApp(): boolean {
    return this.state.settings.nonMarketplaceApp;
  }

  set nonMarketplaceApp(on: boolean) {
    this.state.settings.nonMarketplaceApp = on;
  }

  /** When Slack closes a stream by itself (ms without start/append, ms since start). */
  setStreamLimits(limits: { idleMs?: number; maxAgeMs?: number }): void {
    if (limits.idleMs !== undefined) this.state.settings.streamIdleTimeoutMs = limits.idleMs;
    if (limits.maxAgeMs !== undefined) this.state.settings.streamMaxAgeMs = limits.maxAgeMs;
  }

  /** How long an assistant status lasts with no reply, and a trigger_id can open a view (ms). */
  setTimeouts(timeouts: { assistantStatusMs?: number; triggerMs?: number }): void {
    if (timeouts.assistantStatusMs !== undefined) this.state.settings.assistantStatusTimeoutMs = timeouts.assistantStatusMs;
    if (timeouts.triggerMs !== undefined) this.state.settings.triggerTtlMs = timeouts.triggerMs;
  }

  // ---------------------------------------------------------------- workspace setup

  addTeam(team: SimTeamOptions): void {
    this.state.workspaces.addTeam(team);
  }

  /** Any token can be made a bot token of a workspace (besides the `xoxb-<team>-…` convention). */
  registerBotToken(token: string, teamId: string): void {
    this.state.workspaces.registerBotToken(token, teamId);
  }

  /** A channel (DM, private…); `botIsMember: false` → posting answers not_in_channel; `archived` → is_archived. */
  addChannel(teamId: string, channel: AddChannelInput): void {
    this.state.workspaces.addChannel(teamId, channel);
  }

  /** A user, with the roles users.info reports (`isAdmin`, `isOwner`, `isPrimaryOwner`, `isRestricted`). */
  addUser(teamId: string, user: AddUserInput): void {
    this.state.workspaces.addUser(teamId, user);
  }

  /**
   * The bot token's scopes in a workspace (undefined: every scope). A method whose documented scope is
   * missing answers `missing_scope` with `needed` / `provided`; downloads need files:read.
   */
  setScopes(teamId: string, scopes: string[] | undefined): void {
    this.state.team(teamId).scopes = scopes ? new Set(scopes) : undefined;
  }

  /**
   * Methods a workspace does not have (a feature not rolled out or not enabled there): they answer
   * `error` (default `unknown_method`; e.g. "feature_not_enabled", "not_agent_app"). See
   * STREAMING_METHODS / ASSISTANT_METHODS.
   */
  disableMethods(teamId: string, methods: readonly string[], error = "unknown_method"): void {
    const team = this.state.team(teamId);
    for (const method of methods) team.disabledMethods.set(method, error);
  }

  /** Undoes disableMethods (all of them when no list is given). */
  enableMethods(teamId: string, methods?: readonly string[]): void {
    const team = this.state.team(teamId);
    if (!methods) team.disabledMethods.clear();
    for (const method of methods ?? []) team.disabledMethods.delete(method);
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

  /**
   * Slack's posting limit: chat.postMessage about once a second per channel (`limit` posts per
   * `windowMs` in each channel; 429 with Retry-After beyond). Also part of `rateTiers: "all"`.
   */
  limitPostsPerChannel(options: { limit?: number; windowMs?: number } = {}): void {
    this.setMethodLimit("chat.postMessage", { limit: options.limit ?? 1, windowMs: options.windowMs ?? 1000, per: "channel" });
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

  /** Calls to methods the simulator does not know (not those a workspace has switched off). */
  unknownMethods(): SimCall[] {
    return this.webApi.callLog.filter((c) => c.error === "unknown_method" && !this.webApi.knows(c.method));
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
    return (team.messages.get(channel) ?? [])
      .filter((m) => options.includeDeleted || !m.deleted)
      .map((m) => {
        this.state.streamState(m);
        return messageView(m, this.state.files);
      });
  }

  /** A thread: its parent, then its replies, in ts order. */
  thread(teamId: string, channel: string, threadTs: string, options: MessagesOptions = {}): SimMessage[] {
    return this.messages(teamId, channel, options).filter((m) => m.ts === threadTs || m.thread_ts === threadTs);
  }

  /** One message, by ts. */
  message(teamId: string, channel: string, ts: string): SimMessage | undefined {
    const stored = this.state.messages.find(this.state.team(teamId), channel, ts);
    if (!stored) return undefined;
    this.state.streamState(stored);
    return messageView(stored, this.state.files);
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

  /** Closes a stream now, as Slack does after its idle/age limit: appends then fail message_not_in_streaming_state. */
  expireStream(teamId: string, channel: string, ts: string): void {
    const stored = this.state.messages.find(this.state.team(teamId), channel, ts);
    if (!stored?.stream) throw new Error(`SlackSimulator: ${ts} is not a streamed message`);
    if (stored.stream.state === "streaming") stored.stream.state = "expired";
  }

  /** An assistant thread as the user sees it: status (now), status history, title, suggested prompts. */
  assistantThread(teamId: string, channel: string, threadTs: string): SimAssistantThread | undefined {
    const record = this.state.assistant.find(teamId, channel, threadTs);
    return record ? this.state.assistant.view(record) : undefined;
  }

  /** A file (user upload or bot upload), as a test reads it. */
  file(fileId: string): SimFileView | undefined {
    const file = this.state.files.get(fileId);
    return file ? this.state.files.view(file) : undefined;
  }

  /** A file's bytes as stored (what the bot uploaded, or what a user attached). */
  fileBytes(fileId: string): Buffer | undefined {
    const file = this.state.files.get(fileId);
    return file?.uploaded ? this.state.files.bytes(file) : undefined;
  }

  /** Files in a workspace's channel (every message's files, thread replies included), in ts order. */
  filesIn(teamId: string, channel: string): SimFileView[] {
    return this.messages(teamId, channel).flatMap((m) => m.files ?? []);
  }

  /** How downloading a file misbehaves from now on (undefined: serve it normally). */
  setFileFault(fileId: string, fault: FileFault | undefined): void {
    const file = this.state.files.get(fileId);
    if (!file) throw new Error(`SlackSimulator: unknown file ${fileId}`);
    file.fault = fault;
  }

  /** The next `times` POSTs to upload URLs answer `status` (the file's bytes do not arrive). */
  failUploads(status: number, times = 1): void {
    this.state.files.uploadFault = { status, remaining: times };
  }

  /** Every GET of a file URL, oldest first. */
  fileDownloads(): SimFileDownload[] {
    return [...this.state.files.downloads];
  }

  /** Modals opened with views.open / views.push, oldest first. */
  views(teamId?: string): SimView[] {
    return [...this.state.views.views.values()].filter((v) => teamId === undefined || v.teamId === teamId);
  }

  // ---------------------------------------------------------------- delivery to the app

  /**
   * Deliver envelopes as HTTP requests signed with `signingSecret` to `url` (an app in HTTP mode)
   * instead of over Socket Mode; `undefined` switches back. Acks then carry the HTTP status.
   * `timestampOffsetSec` signs with a skewed X-Slack-Request-Timestamp (past or future).
   */
  setHttpDelivery(target: { url: string; signingSecret: string; timestampOffsetSec?: number } | undefined): void {
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
  userMentions(teamId: string, input: UserMentionInput): UserMentionResult {
    return userMentions(this.state, this.events, teamId, input);
  }

  /**
   * A user (or another bot, with `botId`) posts a message: stored, and a `message` event sent. With
   * `files`, the message is a `file_share` carrying the files (their ids in `fileIds`).
   */
  userMessage(teamId: string, input: UserMessageInput): UserMessageResult {
    return userMessage(this.state, this.events, teamId, input);
  }

  /** A user edits their message: `message_changed` with the new text and previous_message. */
  userEdits(teamId: string, input: { channel: string; ts: string; text: string }): SimEnvelope {
    return userEdits(this.state, this.events, teamId, input);
  }

  /**
   * A message is deleted by a person — its author, or an admin (`by`) deleting the bot's reply —
   * with the `message_deleted` event; the bot's later edits/appends on it answer message_not_found.
   */
  deleteMessage(teamId: string, input: { channel: string; ts: string; by?: string }): SimEnvelope {
    return deleteMessage(this.state, this.events, teamId, input);
  }

  /** A user opens the app's AI split view: root message + `assistant_thread_started` (context optional). */
  openAssistantThread(teamId: string, input: OpenAssistantInput): AssistantThreadResult {
    return openAssistantThread(this.state, this.events, teamId, input);
  }

  /** The user moves to another channel with the split view open: `assistant_thread_context_changed`. */
  changeAssistantContext(
    teamId: string,
    input: { user: string; channel: string; threadTs: string; context: AssistantContextInput },
  ): SimEnvelope {
    return changeAssistantContext(this.state, this.events, teamId, input);
  }

  /** The user submits a modal (`view_submission` with these values); the app's ack decides what happens. */
  submitView(teamId: string, input: { viewId: string; values?: ViewValues }): SimEnvelope {
    return submitView(this.state, this.events, teamId, input);
  }

  /** The user closes a modal (`view_closed` when the view has notify_on_close). */
  closeView(teamId: string, viewId: string): SimEnvelope | undefined {
    return closeView(this.state, this.events, teamId, viewId);
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
    if (await this.fileServer.handle(url, req, res)) return;
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  }
}
