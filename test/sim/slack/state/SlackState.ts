/**
 * Everything the Slack simulator knows, in one object handed to the Web API methods, the event
 * builders and the user actions: who the app and bot are, the switches tests flip (echoes), the
 * workspaces and their messages, and the ts clock.
 */
import type { ChannelType, SlackSimulatorOptions } from "../types.ts";
import { TsClock } from "./clock.ts";
import { MessageStore, type StoredMessage } from "./MessageStore.ts";
import { messageEvent, slackShape } from "./messageShapes.ts";
import { type TeamState, Workspaces } from "./Workspaces.ts";

/** Switches a test may flip at any time (the facade's `echoBotPosts` … properties). */
export interface SlackSettings {
  echoBotPosts: boolean;
  echoBotEdits: boolean;
  messageEventsForMentions: boolean;
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
    };
    this.workspaces = new Workspaces({ botUserId: this.botUserId, botId: this.botId, botName: this.botName });
    this.messages = new MessageStore(this.workspaces, this.clock, this.appId);
  }

  team(teamId: string): TeamState {
    return this.workspaces.team(teamId);
  }

  nextTs(): string {
    return this.clock.next();
  }

  /** A message object as the Web API and events show it. */
  shape(m: StoredMessage, team: TeamState): Record<string, unknown> {
    return slackShape(this.messages, this.botName, m, team);
  }

  /** The `message` event for a stored message. */
  messageEvent(team: TeamState, m: StoredMessage, channelType?: ChannelType): Record<string, unknown> {
    return messageEvent(this.messages, this.botName, team, m, channelType);
  }
}
