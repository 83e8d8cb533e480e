/** Small helpers shared by every part of the Slack simulator: ids, loose param parsing, request bodies. */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";

export function randomId(prefix: string, bytes = 6): string {
  return `${prefix}${randomBytes(bytes).toString("hex").toUpperCase()}`;
}

/** A fresh Socket Mode envelope id. */
export function newEnvelopeId(): string {
  return randomId("env-", 8).toLowerCase();
}

/** A trigger_id as Slack formats them. */
export function newTriggerId(): string {
  return `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(8).toString("hex")}`;
}

export function asString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

/** Web API booleans arrive as `true`, `"true"`, `"1"` or `1`; empty means absent. */
export function asBool(value: unknown): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  return value === true || value === "true" || value === "1" || value === 1;
}

export function asArray(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** The text of a block or element: `text` as a string, or `text.text`. */
export function blockText(block: Record<string, unknown>): string {
  const text = block.text;
  if (typeof text === "string") return text;
  if (typeof text === "object" && text !== null) {
    const inner = (text as Record<string, unknown>).text;
    if (typeof inner === "string") return inner;
  }
  return "";
}
