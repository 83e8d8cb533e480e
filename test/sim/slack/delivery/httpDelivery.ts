/**
 * Envelopes delivered to an app in HTTP mode, as Slack does: events as JSON (with
 * x-slack-retry-num/-reason on retries), slash commands as a form, interactive payloads as a form
 * field `payload`; every request signed with the app's signing secret. The ack is the HTTP answer.
 */
import { stringify as stringifyQuery } from "node:querystring";
import { signSlackRequest } from "../signSlackRequest.ts";
import type { SimEnvelope } from "./SimEnvelope.ts";

export interface HttpDelivery {
  url: string;
  signingSecret: string;
  /** Seconds added to the signed X-Slack-Request-Timestamp (a skewed clock; ±300 s is where Slack's guidance rejects). */
  timestampOffsetSec?: number;
}

export async function deliverHttp(
  envelope: SimEnvelope,
  target: HttpDelivery,
  onAck: (envelope: SimEnvelope, payload: unknown) => void,
): Promise<void> {
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
  const timestamp = Math.floor(Date.now() / 1000) + (target.timestampOffsetSec ?? 0);
  Object.assign(headers, signSlackRequest(target.signingSecret, body, timestamp), { "content-type": contentType });
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
    if (response.status >= 200 && response.status < 300) onAck(envelope, payload);
  } catch (error) {
    envelope.settle(error instanceof Error ? error.message : String(error), 0);
  }
}
