/**
 * The places settings live at and what a conversation is at a place. Settings are stored per
 * scope — a workspace (Discord server, Slack team), a channel, a thread — and a message's place
 * (ChatPlace) sees the chain workspace → channel → thread, each overriding the one above. The
 * `memory-scope` setting decides which conversation key (memory) a message belongs to:
 * `conversationKeyFor` is what adapters call instead of building keys themselves.
 */
import type { ChatPlace, ConversationKey, Platform } from "../types.ts";

export const SCOPE_LEVELS = ["workspace", "channel", "thread"] as const;
export type ScopeLevel = (typeof SCOPE_LEVELS)[number];

/** One place settings are stored at. */
export interface SettingsScope {
  level: ScopeLevel;
  platform: Platform;
  workspaceId: string;
  /** Set for channel and thread scopes. */
  channelId?: string;
  /** Set for thread scopes. */
  threadId?: string;
}

/** Whose messages share one memory. */
export const MEMORY_SCOPES = ["thread", "channel", "user"] as const;
export type MemoryScope = (typeof MEMORY_SCOPES)[number];

/** Thrown for ids that would make scope ids or conversation keys ambiguous (a programming error in an adapter). */
export class InvalidPlaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidPlaceError";
  }
}

function checkId(what: string, id: string | undefined): void {
  if (id !== undefined && (id.length === 0 || id.includes(":") || /\s/.test(id)))
    throw new InvalidPlaceError(`${what} "${id}" must be non-empty, without ':' or spaces`);
}

/** The scope of `place` at `level` (a thread scope needs a place in a thread). */
export function scopeOf(place: ChatPlace, level: ScopeLevel): SettingsScope {
  checkId("workspace id", place.workspaceId);
  checkId("channel id", place.channelId);
  checkId("thread id", place.threadId);
  if (level === "workspace") return { level, platform: place.platform, workspaceId: place.workspaceId };
  if (level === "channel") return { level, platform: place.platform, workspaceId: place.workspaceId, channelId: place.channelId };
  if (place.threadId === undefined) throw new InvalidPlaceError("a thread scope needs a place inside a thread");
  return { level, platform: place.platform, workspaceId: place.workspaceId, channelId: place.channelId, threadId: place.threadId };
}

/** The scopes whose settings apply at `place`, broadest first: workspace, channel, and the thread when in one. */
export function scopeChain(place: ChatPlace): SettingsScope[] {
  const chain = [scopeOf(place, "workspace"), scopeOf(place, "channel")];
  if (place.threadId !== undefined) chain.push(scopeOf(place, "thread"));
  return chain;
}

/** The place a scope stands for (a workspace scope has no channel: its chain stops at the workspace). */
export function scopeChainOf(scope: SettingsScope): SettingsScope[] {
  if (scope.level !== "workspace" && scope.channelId === undefined)
    throw new InvalidPlaceError(`a ${scope.level} scope needs a channel id`);
  const place: ChatPlace = { platform: scope.platform, workspaceId: scope.workspaceId, channelId: scope.channelId ?? "_" };
  if (scope.threadId !== undefined) place.threadId = scope.threadId;
  return SCOPE_LEVELS.slice(0, SCOPE_LEVELS.indexOf(scope.level) + 1).map((level) => scopeOf(place, level));
}

/** `discord:<guild>` · `discord:<guild>:<channel>` · `discord:<guild>:<channel>:<thread>` (Slack: team, channel, thread_ts). */
export function scopeId(scope: SettingsScope): string {
  return [scope.platform, scope.workspaceId, scope.channelId, scope.threadId].filter((p) => p !== undefined).join(":");
}

/** The scope a `scopeId` names; undefined when it names none. */
export function parseScopeId(id: string): SettingsScope | undefined {
  const [platform, workspaceId, channelId, threadId, ...rest] = id.split(":");
  if (rest.length > 0 || !workspaceId || !["discord", "slack", "local"].includes(platform ?? "")) return undefined;
  const level: ScopeLevel = threadId ? "thread" : channelId ? "channel" : "workspace";
  const scope: SettingsScope = { level, platform: platform as Platform, workspaceId };
  if (channelId) scope.channelId = channelId;
  if (threadId) scope.threadId = threadId;
  return scope;
}

/** What a level is called on a platform, for people: "server", "workspace", "channel", "thread". */
export function levelName(platform: Platform, level: ScopeLevel): string {
  if (level !== "workspace") return level;
  return platform === "discord" ? "server" : "workspace";
}

/**
 * The conversation (memory) a message at `place` from `userId` belongs to, by memory scope:
 *   - `thread`: the thread's own memory inside a thread, the channel's outside (the default);
 *   - `channel`: one memory for the whole channel, its threads included;
 *   - `user`: each person their own memory in the channel, its threads included.
 * With `thread` the keys are the ones the adapters have always used:
 * `discord:<guild|dm>:<channel>[:<thread>]`, `slack:<team>:<channel>:<thread_ts>`, `local:<room>[:<thread>]`.
 */
export function conversationKeyFor(place: ChatPlace, memoryScope: MemoryScope, userId: string): ConversationKey {
  checkId("workspace id", place.workspaceId);
  checkId("channel id", place.channelId);
  checkId("thread id", place.threadId);
  const base = place.platform === "local" ? `local:${place.channelId}` : `${place.platform}:${place.workspaceId}:${place.channelId}`;
  switch (memoryScope) {
    case "thread":
      return place.threadId === undefined ? base : `${base}:${place.threadId}`;
    case "channel":
      return base;
    case "user":
      checkId("user id", userId);
      return `${base}:user:${userId}`;
  }
}
