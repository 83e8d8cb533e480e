/**
 * What Slack's method reference pages say about each method the simulator answers: its rate tier and
 * the bot scope it needs. Tiers are per method, per workspace, per app: Tier 1 1+/min, Tier 2 20+/min,
 * Tier 3 50+/min, Tier 4 100+/min; "special" methods have their own rules (chat.postMessage: about
 * one message a second per channel; others: not enforced here). Conversations methods need the
 * history/read scope of the conversation's kind (channels:, groups:, im:, mpim:).
 */
import type { ChannelType } from "../types.ts";

export type Tier = 1 | 2 | 3 | 4 | "special";

/** A scope list, or the conversation-kind scope family (`history` → `channels:history` for a C…). */
export type ScopeRule = readonly string[] | "history" | "read";

export interface MethodFacts {
  tier: Tier;
  scopes: ScopeRule;
  /** Added with streaming, the assistant, files and views: tiers enforced by default ("new" mode). */
  isNew?: boolean;
}

/** Calls per minute for each numbered tier (the documented floor; Slack tolerates short bursts above). */
export const TIER_PER_MINUTE: Record<1 | 2 | 3 | 4, number> = { 1: 1, 2: 20, 3: 50, 4: 100 };

export const METHOD_FACTS: Record<string, MethodFacts> = {
  "auth.test": { tier: "special", scopes: [] },
  "apps.connections.open": { tier: 3, scopes: [] },
  "chat.postMessage": { tier: "special", scopes: ["chat:write"] },
  "chat.update": { tier: 3, scopes: ["chat:write"] },
  "chat.delete": { tier: 3, scopes: ["chat:write"] },
  "chat.postEphemeral": { tier: 4, scopes: ["chat:write"] },
  "chat.getPermalink": { tier: "special", scopes: [] },
  "chat.startStream": { tier: 2, scopes: ["chat:write"], isNew: true },
  "chat.appendStream": { tier: 4, scopes: ["chat:write"], isNew: true },
  "chat.stopStream": { tier: 2, scopes: ["chat:write"], isNew: true },
  "conversations.info": { tier: 3, scopes: "read" },
  "conversations.history": { tier: 3, scopes: "history" },
  "conversations.replies": { tier: 3, scopes: "history" },
  "users.info": { tier: 4, scopes: ["users:read"] },
  "reactions.add": { tier: 3, scopes: ["reactions:write"] },
  "reactions.remove": { tier: 2, scopes: ["reactions:write"] },
  "assistant.threads.setStatus": { tier: "special", scopes: ["chat:write"], isNew: true },
  "assistant.threads.setSuggestedPrompts": { tier: 4, scopes: ["assistant:write"], isNew: true },
  "assistant.threads.setTitle": { tier: 4, scopes: ["assistant:write"], isNew: true },
  "files.getUploadURLExternal": { tier: 4, scopes: ["files:write"], isNew: true },
  "files.completeUploadExternal": { tier: 4, scopes: ["files:write"], isNew: true },
  "files.info": { tier: 4, scopes: ["files:read"], isNew: true },
  "files.delete": { tier: 3, scopes: ["files:write"], isNew: true },
  "views.open": { tier: 4, scopes: [], isNew: true },
  "views.update": { tier: 4, scopes: [], isNew: true },
  "views.push": { tier: 4, scopes: [], isNew: true },
};

/** The three streaming methods (for `disableMethods`). */
export const STREAMING_METHODS = ["chat.startStream", "chat.appendStream", "chat.stopStream"] as const;
/** The assistant thread methods (for `disableMethods`). */
export const ASSISTANT_METHODS = [
  "assistant.threads.setStatus",
  "assistant.threads.setSuggestedPrompts",
  "assistant.threads.setTitle",
] as const;

const KIND_PREFIX: Record<ChannelType, string> = { channel: "channels", group: "groups", im: "im", mpim: "mpim" };

/** The scopes a call needs (for a conversations method: the scope of that conversation's kind). */
export function scopesNeeded(method: string, channelType: ChannelType | undefined): string[] {
  const rule = METHOD_FACTS[method]?.scopes;
  if (rule === undefined) return [];
  if (rule === "history" || rule === "read") return [`${KIND_PREFIX[channelType ?? "channel"]}:${rule}`];
  return [...rule];
}
