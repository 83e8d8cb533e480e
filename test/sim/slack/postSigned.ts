import { stringify } from "node:querystring";
import { signSlackRequest } from "./signSlackRequest.ts";

export interface PostSignedOptions {
  /** The app's signing secret. */
  secret: string;
  /** Seconds since the epoch put in X-Slack-Request-Timestamp (and signed). Default: now. */
  timestamp?: number;
  /** Sign with a wrong secret, so the signature does not verify. */
  forge?: boolean;
  /** Leave a header out. */
  omit?: "signature" | "timestamp" | "both";
  /**
   * "json" (application/json), "form" (application/x-www-form-urlencoded) or a literal content type.
   * Default: "json" for an object body, "form" for a string body.
   */
  contentType?: "json" | "form" | string;
  /** Extra headers (e.g. x-slack-retry-num). */
  headers?: Record<string, string>;
}

export interface PostSignedResult {
  status: number;
  headers: Record<string, string>;
  /** The raw response body. */
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
}

/**
 * POSTs a body to an app's HTTP endpoint the way Slack does, signed with `secret`.
 * An object body is serialized as JSON, or as a form when `contentType` is "form"
 * (object values that are not strings are JSON-encoded, as Slack does for `payload`).
 */
export async function postSigned(
  url: string,
  body: string | Record<string, unknown>,
  options: PostSignedOptions,
): Promise<PostSignedResult> {
  const kind = options.contentType ?? (typeof body === "string" ? "form" : "json");
  const contentType = kind === "json" ? "application/json" : kind === "form" ? "application/x-www-form-urlencoded" : kind;
  let raw: string;
  if (typeof body === "string") {
    raw = body;
  } else if (kind === "form") {
    const flat: Record<string, string> = {};
    for (const [key, value] of Object.entries(body)) {
      if (value === undefined) continue;
      flat[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    raw = stringify(flat);
  } else {
    raw = JSON.stringify(body);
  }
  const secret = options.forge ? `${options.secret}-forged` : options.secret;
  const signed = signSlackRequest(secret, raw, options.timestamp);
  const headers: Record<string, string> = { "content-type": contentType, ...options.headers };
  if (options.omit !== "signature" && options.omit !== "both") {
    headers["x-slack-signature"] = signed["x-slack-signature"];
  }
  if (options.omit !== "timestamp" && options.omit !== "both") {
    headers["x-slack-request-timestamp"] = signed["x-slack-request-timestamp"];
  }
  const response = await fetch(url, { method: "POST", headers, body: raw });
  const text = await response.text();
  const responseHeaders: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    responseHeaders[key] = value;
  });
  let json: unknown;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: responseHeaders, body: text, json };
}
