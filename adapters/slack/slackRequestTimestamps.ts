/**
 * HTTP mode: Slack's guidance is to refuse a request whose `X-Slack-Request-Timestamp` differs from
 * now by more than five minutes either way. Bolt's verification refuses only old ones (and forged
 * or missing signatures); this guard, in front of Bolt's request listener, answers 401 to a request
 * dated more than five minutes in the future as well — before its body is read, so no listener runs.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HTTPReceiver } from "@slack/bolt";
import type { Logger } from "../../src/logger.ts";

/** Slack's tolerance, either way (seconds). */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

/** Whether a request's timestamp header (seconds since the epoch) lies too far in the future. */
export function fromTheFuture(header: string | string[] | undefined, nowMs = Date.now()): boolean {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined) return false; // missing: Bolt refuses it
  const ts = Number(raw);
  return Number.isFinite(ts) && ts - Math.floor(nowMs / 1000) > MAX_CLOCK_SKEW_SECONDS;
}

/** Puts the future-timestamp check in front of the receiver's request listener. */
export function refuseFutureTimestamps(receiver: HTTPReceiver, log: Logger): void {
  const inner = receiver.requestListener;
  receiver.requestListener = (req: IncomingMessage, res: ServerResponse) => {
    if (fromTheFuture(req.headers["x-slack-request-timestamp"])) {
      log.warn({ timestamp: req.headers["x-slack-request-timestamp"] }, "refused a Slack request dated more than 5 minutes ahead");
      res.writeHead(401).end();
      return;
    }
    inner(req, res);
  };
}
