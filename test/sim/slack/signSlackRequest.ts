import { createHmac } from "node:crypto";

/** The two headers Slack adds to every request it sends to an app in HTTP mode. */
export interface SlackSignatureHeaders {
  "x-slack-signature": string;
  "x-slack-request-timestamp": string;
}

/**
 * Signs a raw request body the way Slack does:
 * `v0=` + hex(HMAC_SHA256(secret, "v0:" + timestamp + ":" + body)).
 */
export function signSlackRequest(
  secret: string,
  body: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const ts = String(Math.floor(timestampSec));
  const digest = createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex");
  return { "x-slack-signature": `v0=${digest}`, "x-slack-request-timestamp": ts };
}
