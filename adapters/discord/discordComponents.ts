/**
 * The message parts the Discord adapter and the worker's sink agree on: button custom ids, the
 * button rows, the "never ping anyone" allowed_mentions, and the nonces that make creates
 * idempotent.
 */
import { createHash } from "node:crypto";
import type { APIActionRowComponent, APIButtonComponent } from "discord.js";

/** Sent on every create and edit: model output and echoed user text never ping anyone. */
export const NO_MENTIONS = { parse: [] as never[] } as const;

export const STOP_PREFIX = "stop:";
export const REGEN_PREFIX = "regen:";

/** Discord's limit on a custom_id. */
const CUSTOM_ID_MAX = 100;

/** A row with the Stop button (while a reply streams). */
export function stopRow(requestId: string): APIActionRowComponent<APIButtonComponent> {
  return {
    type: 1,
    components: [{ type: 2, style: 4, label: "Stop", emoji: { name: "⏹️" }, custom_id: customId(STOP_PREFIX, requestId) }],
  };
}

/** A row with the Regenerate button (on a finished reply). */
export function regenerateRow(requestId: string): APIActionRowComponent<APIButtonComponent> {
  return {
    type: 1,
    components: [{ type: 2, style: 2, label: "Regenerate", emoji: { name: "🔁" }, custom_id: customId(REGEN_PREFIX, requestId) }],
  };
}

function customId(prefix: string, requestId: string): string {
  const id = `${prefix}${requestId}`;
  if (id.length > CUSTOM_ID_MAX) throw new Error(`custom_id too long: ${id.length} characters`);
  return id;
}

/** `{ action, requestId }` of one of our buttons, or undefined for anything else. */
export function parseButtonId(id: string): { action: "stop" | "regen"; requestId: string } | undefined {
  if (id.startsWith(STOP_PREFIX) && id.length > STOP_PREFIX.length) return { action: "stop", requestId: id.slice(STOP_PREFIX.length) };
  if (id.startsWith(REGEN_PREFIX) && id.length > REGEN_PREFIX.length) return { action: "regen", requestId: id.slice(REGEN_PREFIX.length) };
  return undefined;
}

/** Discord's longest nonce. */
const NONCE_MAX = 25;

/**
 * The nonce of a message the bot creates for `key` (a request id and the part of its reply, or
 * what a notice answers): the same key always gives the same nonce, so a create sent with
 * `enforce_nonce` twice — retried by the REST client after a 5xx, or by a retried job — returns
 * the message already created instead of posting a second one.
 */
export function nonceFor(key: string): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, NONCE_MAX);
}

/** The nonce of part `part` (0: the placeholder) of the reply to `requestId`. */
export function replyNonce(requestId: string, part: number): string {
  return nonceFor(`${requestId}#${part}`);
}
