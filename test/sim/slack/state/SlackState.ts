/**
 * Everything the Slack simulator knows, in one object handed to the Web API methods, the event
 * builders and the user actions: who the app and bot are, the switches tests flip (echoes), the
 * workspaces and their messages, and the ts clock.
 */
import type { ChannelType, RateTierMode, SlackSimulatorOptions } from "../types.ts";
import { AssistantThreads } from "./AssistantThreads.ts";
import { TsClock } from "./clock.ts";
import { FileStore } from "./FileStore.ts";
import { MessageStore, type StoredMessage } from "./MessageStore.ts";
import { messageEvent, slackShape } from "./messageShapes.ts";
import { refreshStream, STREAM_DEFAULT_LIMIT_MS } from "./streams.ts";
import { Views } from "./Views.ts";
import { type TeamState, Workspaces } from "./Workspaces.ts";

/** Switches a test may flip at any time (the facade's `echoBotPosts` … properties). */
export interface SlackSettings {
  echoBotPosts: boolean;
  echoBotEdits: boolean;
  messageEventsForMentions: boolean;
  echoStreamAppends: boolean;
  rateTiers: RateTierMode;
  streamIdleTimeoutMs: number;
  streamMaxAgeMs: number;
  assistantStatusTimeoutMs: number;
  triggerTtlMs: number;
  nonMarketplaceApp: boolean;
}

export class SlackState {
  readonly appId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly botName: string;
  readonly verificationToken: string;
  readonly settings: SlackSettings;
  readonly clock = new TsClock();
  readonly workspaces: Workspaces;
  readonly messages: MessageStore;
  readonly files: FileStore;
  readonly assistant: AssistantThreads;
  readonly views: Views;

  constructor(
    /** `http://127.0.0.1:PORT` */
    readonly baseUrl: string,
    readonly port: number,
    options: SlackSimulatorOptions,
  ) {
    this.appId = options.appId ?? "A0SIMAPP";
    this.botUserId = options.botUserId ?? "U0BOT";
    this.botId = options.botId ?? "B0BOT";
    this.botName = options.botName ?? "qwenbot";
    this.verificationToken = options.verificationToken ?? "sim-verification-token";
    this.settings = {
      echoBotPosts: options.echoBotPosts ?? false,
      echoBotEdits: options.echoBotEdits ?? false,
      messageEventsForMentions: options.messageEventsForMentions ?? true,
      echoStreamAppends: options.echoStreamAppends ?? false,
      rateTiers: options.rateTiers ?? "new",
      streamIdleTimeoutMs: options.streamIdleTimeoutMs ?? STREAM_DEFAULT_LIMIT_MS,
      streamMaxAgeMs: options.streamMaxAgeMs ?? STREAM_DEFAULT_LIMIT_MS,
      assistantStatusTimeoutMs: options.assistantStatusTimeoutMs ?? 120_000,
      triggerTtlMs: options.triggerTtlMs ?? 3000,
      nonMarketplaceApp: options.nonMarketplaceApp ?? false,
    };
    this.workspaces = new Workspaces({ botUserId: this.botUserId, botId: this.botId, botName: this.botName });
    this.messages = new MessageStore(this.workspaces, this.clock, this.appId);
    this.files = new FileStore(baseUrl);
    this.assistant = new AssistantThreads(() => this.settings.assistantStatusTimeoutMs);
    this.views = new Views(() => this.settings.triggerTtlMs);
  }

  /** A streamed message's state now (closing it when Slack's idle/age limit passed). */
  streamState(m: StoredMessage, now = Date.now()): "streaming" | "stopped" | "expired" | undefined {
    return m.stream ? refreshStream(m.stream, this.settings, now) : undefined;
  }

  team(teamId: string): TeamState {
    return this.workspaces.team(teamId);
  }

  nextTs(): string {
    return this.clock.next();
  }

  /** A message object as the Web API and events show it. */
  shape(m: StoredMessage, team: TeamState, options: { metadata?: boolean } = {}): Record<string, unknown> {
    this.streamState(m);
    return slackShape(this.messages, this.files, this.botName, m, team, options);
  }

  /** The `message` event for a stored message. */
  messageEvent(team: TeamState, m: StoredMessage, channelType?: ChannelType): Record<string, unknown> {
    return messageEvent(this.messages, this.files, this.botName, team, m, channelType);
  }
}
