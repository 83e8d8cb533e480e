/**
 * Posting a placeholder exactly once. `chat.postMessage` has no idempotency key, and Slack can
 * save a message and still answer 5xx (or the connection can drop after the write): a client that
 * retries then posts a second placeholder, and the first stays "Thinking…" with a live Stop button
 * for good (found by the chaos run). So the placeholder goes through a client that never retries
 * by itself; when an attempt ends without knowing whether Slack saved it (HTTP 5xx, a network
 * error), the thread is read back (`conversations.replies`, or `conversations.history` at the top
 * level) for a message carrying this request's Stop button, and only when there is none is the
 * post tried again.
 */
import { type types, webApi } from "@slack/bolt";
import type { Logger } from "../../src/logger.ts";
import type { WebClient, WebClientOptions } from "./slackWorkspaces.ts";

const ATTEMPTS = 3;

export interface PlaceholderPost {
  channel: string;
  thread_ts?: string;
  text: string;
  blocks: types.KnownBlock[];
}

/** Whether Slack may have saved the message although the call failed. */
export function outcomeUnknown(err: unknown): boolean {
  const e = err as { code?: string; statusCode?: number };
  if (e.code === webApi.ErrorCode.RequestError) return true;
  return e.code === webApi.ErrorCode.HTTPError && (e.statusCode ?? 0) >= 500;
}

export class PlaceholderPoster {
  private readonly clients = new Map<string, WebClient>();

  constructor(
    private readonly clientOptions: WebClientOptions,
    private readonly log: Logger,
    private readonly pauseMs = 400,
  ) {}

  /** The message's ts; throws the last error when it could not be posted (nothing was saved, or nothing could be found). */
  async post(client: WebClient, requestId: string, message: PlaceholderPost): Promise<string | undefined> {
    const once = this.noRetry(client);
    let lastError: unknown;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      // Slack's ts are seconds; a little before the call, for clocks that differ.
      const since = (Date.now() / 1000 - 30).toFixed(6);
      try {
        const res = await once.chat.postMessage({ ...message, unfurl_links: false, unfurl_media: false });
        return res.ts;
      } catch (err) {
        lastError = err;
        if (!outcomeUnknown(err)) throw err;
        const found = await this.find(once, requestId, message, since).catch((e: unknown) => {
          this.log.warn({ err: String(e), requestId }, "could not read the thread back after a failed placeholder post");
          return undefined;
        });
        if (found) {
          this.log.warn({ requestId, ts: found, attempt }, "the placeholder post failed but Slack had saved it; using that message");
          return found;
        }
        this.log.warn({ requestId, attempt, err: String(err) }, "the placeholder post failed and was not saved; posting again");
        await new Promise((r) => setTimeout(r, this.pauseMs * attempt));
      }
    }
    throw lastError;
  }

  /** A message of this request (its Stop button carries the request id) posted since `oldest`. */
  private async find(client: WebClient, requestId: string, message: PlaceholderPost, oldest: string): Promise<string | undefined> {
    const res = message.thread_ts
      ? await client.conversations.replies({ channel: message.channel, ts: message.thread_ts, oldest, inclusive: true, limit: 200 })
      : await client.conversations.history({ channel: message.channel, oldest, inclusive: true, limit: 200 });
    const mine = (res.messages ?? []).filter((m) => JSON.stringify(m.blocks ?? []).includes(`"value":${JSON.stringify(requestId)}`));
    return mine.map((m) => m.ts).find((ts): ts is string => typeof ts === "string");
  }

  private noRetry(client: WebClient): WebClient {
    const token = client.token ?? "";
    let c = this.clients.get(token);
    if (!c) {
      c = new webApi.WebClient(token, { ...this.clientOptions, retryConfig: { retries: 0 } });
      this.clients.set(token, c);
    }
    return c;
  }
}
