/**
 * What a Web API method is in the simulator: the token kind it needs (bot or app-level) and a
 * function from the call's params to the answer's fields (`ok: true` is added by the dispatcher).
 * A method refuses by throwing `SimApiError(code)`, answered as `{ ok: false, error: code }`.
 */
import type { StoredMessage } from "../state/MessageStore.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { TeamState } from "../state/Workspaces.ts";
import { asString } from "../util.ts";

export class SimApiError extends Error {
  constructor(
    readonly code: string,
    /** more fields of the error answer (`detail`, `response_metadata`, …) */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(code);
  }
}

export interface ApiContext {
  method: string;
  params: Record<string, unknown>;
  token: string;
  team: TeamState | undefined;
  /** Work to run once the response is written (platform echo events). */
  after: Array<() => void>;
}

/** A bot-token call: the workspace is known. */
export type BotContext = ApiContext & { team: TeamState };

export interface MethodSpec {
  auth: "bot" | "app";
  run: (ctx: ApiContext) => Record<string, unknown>;
}

/** What the method files need from the rest of the simulator. */
export interface MethodDeps {
  state: SlackState;
  /** sends an event to the app as the platform's echo of the bot's own activity */
  echo(team: TeamState, event: Record<string, unknown>): void;
  /** a one-time Socket Mode URL (apps.connections.open) */
  openSocketUrl(): string;
}

/** A method that takes a bot token. */
export function bot(run: (ctx: BotContext) => Record<string, unknown>): MethodSpec {
  return { auth: "bot", run: (ctx) => run(ctx as BotContext) };
}

export function requireString(params: Record<string, unknown>, key: string, error: string): string {
  const value = asString(params[key]);
  if (value === undefined || value === "") throw new SimApiError(error);
  return value;
}

/** A channel the bot may post in: created on first use; `not_in_channel` / `is_archived` as Slack answers. */
export function postableChannel(state: SlackState, team: TeamState, channel: string): void {
  const c = state.workspaces.ensureChannel(team, channel);
  if (c.archived) throw new SimApiError("is_archived");
  if (!c.botIsMember && c.type !== "im") throw new SimApiError("not_in_channel");
}

/** The message at `ts`, or `message_not_found` (deleted ones included). */
export function existingMessage(state: SlackState, team: TeamState, channel: string, ts: string): StoredMessage {
  const message = state.messages.find(team, channel, ts);
  if (!message || message.deleted) throw new SimApiError("message_not_found");
  return message;
}
