/**
 * The worker's side of Slack: edits a reply's placeholder with `chat.update` and posts overflow
 * messages in the same thread with `chat.postMessage`, through the Web API alone (no socket).
 *
 * - Text is the model's Markdown converted to mrkdwn with every mention escaped (`formatForSlack`),
 *   on every edit and post.
 * - While a reply streams, its text sits in section blocks followed by a Stop button (value: the
 *   request id); the final edit sends `blocks: []`, which removes them.
 * - Every edit and post takes a slot of the workspace's shared budget (`SlackEditBudget`, in Redis,
 *   SLACK_EDITS_PER_MINUTE) first; a 429 is thrown as PlatformRateLimitedError(Retry-After) for
 *   the ReplyStreamer to wait out, and pushes the whole workspace's budget back as well.
 * - The WebClient neither retries nor queues on its own (`rejectRateLimitedCalls`, no retries):
 *   the ReplyStreamer decides, so nothing bypasses the budget.
 */

import { webApi } from "@slack/bolt";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config.ts";
import { PlatformError, PlatformRateLimitedError } from "../../src/errors.ts";
import { type Keys, SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { SLACK_MAX_LENGTH } from "../../src/text/splitMessage.ts";
import type { EditOptions, ReplySink, ReplyTarget } from "../../src/types.ts";
import { SlackEditBudget } from "./SlackEditBudget.ts";
import { slackTextWithNote, streamingBlocks } from "./slackMessages.ts";
import {
  botTokens,
  resolveWorkspaces,
  type SlackWorkspace,
  type WebClient,
  type WebClientOptions,
  webClientOptions,
  workspaceFor,
} from "./slackWorkspaces.ts";

export interface SlackSinkOptions {
  /** The budget's window (default 60 000 ms: SLACK_EDITS_PER_MINUTE per minute). Tests shrink it. */
  budgetWindowMs?: number;
  /** Extra WebClient options (tests). */
  clientOptions?: WebClientOptions;
}

/** How long the message → request mapping (for the Stop button) is kept. */
export const MESSAGE_REQUEST_TTL_SECONDS = 24 * 3600;
const CACHE_MAX = 5000;

/** A Web API failure as the ReplyStreamer understands it. Never carries the request (it holds the token). */
function toPlatformError(err: unknown, what: string): Error {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number; message?: string };
  if (e.code === webApi.ErrorCode.RateLimitedError) return new PlatformRateLimitedError(Math.max(1, e.retryAfter ?? 1) * 1000);
  if (e.code === webApi.ErrorCode.PlatformError) return new PlatformError(`${what}: Slack answered ${e.data?.error ?? "an error"}`);
  if (e.code === webApi.ErrorCode.HTTPError) return new PlatformError(`${what}: Slack answered HTTP ${e.statusCode ?? "?"}`, e.statusCode);
  return new PlatformError(`${what}: could not reach Slack (${e.message ?? String(err)})`);
}

function slackError(err: unknown): string | undefined {
  return (err as { data?: { error?: string } }).data?.error;
}

export class SlackSink implements ReplySink {
  readonly maxLength = SLACK_MAX_LENGTH;
  readonly minEditIntervalMs: number;
  readonly budget: SlackEditBudget;
  private readonly slackKeys: SlackKeys;
  private readonly tokens: string[];
  private readonly clientOptions: NonNullable<WebClientOptions>;
  private readonly clients = new Map<string, WebClient>();
  private workspaces: Promise<SlackWorkspace[]> | undefined;
  private readonly requestIds = new Map<string, string>();

  constructor(
    config: Config,
    private readonly logger: Logger,
    private readonly redis: Redis,
    keys: Keys,
    options: SlackSinkOptions = {},
  ) {
    this.tokens = botTokens(config);
    if (this.tokens.length === 0) throw new PlatformError("the Slack sink needs SLACK_BOT_TOKEN");
    this.slackKeys = new SlackKeys(keys);
    this.budget = new SlackEditBudget(redis, this.slackKeys, { limit: config.SLACK_EDITS_PER_MINUTE, windowMs: options.budgetWindowMs });
    this.minEditIntervalMs = this.budget.intervalMs;
    this.clientOptions = webClientOptions(config, {
      ...options.clientOptions,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
    });
  }

  async acquireBudget(target: ReplyTarget): Promise<void> {
    // Everything slow (token lookup, the request id) happens before the slot, so the call itself
    // goes out right when its slot comes.
    await this.clientFor(target.workspaceId).catch(() => undefined);
    await this.requestIdFor(target);
    try {
      await this.budget.acquire(target.workspaceId ?? "-");
    } catch (err) {
      // Redis hiccup: go ahead; Slack's own 429s are still honoured.
      this.logger.warn({ err }, "could not take a slot of the Slack edit budget; editing anyway");
    }
  }

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    const client = await this.clientFor(target.workspaceId);
    const body = slackTextWithNote(text, opts.note);
    const blocks = opts.final ? [] : streamingBlocks(body, await this.requestIdFor(target));
    try {
      await client.chat.update({ channel: target.channelId, ts: target.messageId, text: body, blocks });
    } catch (err) {
      if (slackError(err) === "message_not_found") {
        // Someone deleted the reply: there is nothing left to show it in.
        this.logger.warn({ channel: target.channelId, ts: target.messageId }, "the reply message is gone; edit dropped");
        return;
      }
      throw await this.failed(err, target, "chat.update");
    }
  }

  /** The line moved: show a waiting message's place in its placeholder. Best effort: skipped when the budget has no slot free right now. */
  async queued(target: ReplyTarget, ahead: number): Promise<void> {
    try {
      if ((await this.budget.confirm(target.workspaceId ?? "-")) > 0) return;
    } catch {
      return;
    }
    const client = await this.clientFor(target.workspaceId);
    const text =
      ahead <= 0 ? "⏳ Next in line…" : `⏳ Waiting — ${ahead} message${ahead === 1 ? "" : "s"} ahead of yours in this conversation…`;
    try {
      await client.chat.update({
        channel: target.channelId,
        ts: target.messageId,
        text,
        blocks: streamingBlocks(text, await this.requestIdFor(target)),
      });
    } catch (err) {
      if (slackError(err) === "message_not_found") return;
      throw await this.failed(err, target, "chat.update");
    }
  }

  async post(after: ReplyTarget, text: string, opts?: EditOptions): Promise<ReplyTarget> {
    const client = await this.clientFor(after.workspaceId);
    const threadTs = after.threadId ?? after.messageId;
    let ts: string | undefined;
    try {
      const res = await client.chat.postMessage({
        channel: after.channelId,
        thread_ts: threadTs,
        text: slackTextWithNote(text, opts?.note),
        unfurl_links: false,
        unfurl_media: false,
      });
      ts = res.ts;
    } catch (err) {
      throw await this.failed(err, after, "chat.postMessage");
    }
    if (!ts) throw new PlatformError("chat.postMessage: Slack gave no message ts");
    const posted: ReplyTarget = { platform: "slack", channelId: after.channelId, threadId: threadTs, messageId: ts };
    if (after.workspaceId !== undefined) posted.workspaceId = after.workspaceId;
    if (after.requestId !== undefined) posted.requestId = after.requestId;
    const requestId = await this.requestIdFor(after);
    if (requestId) await this.rememberRequest(posted, requestId);
    return posted;
  }

  /** Remembers which request a message belongs to (the Stop button's target). */
  async rememberRequest(target: ReplyTarget, requestId: string): Promise<void> {
    const key = this.slackKeys.messageRequest(target.workspaceId ?? "-", target.channelId, target.messageId);
    this.cache(key, requestId);
    await this.redis
      .set(key, requestId, "EX", MESSAGE_REQUEST_TTL_SECONDS)
      .catch((err: unknown) => this.logger.warn({ err }, "could not store a message's request id"));
  }

  private async requestIdFor(target: ReplyTarget): Promise<string> {
    if (target.requestId) return target.requestId;
    const key = this.slackKeys.messageRequest(target.workspaceId ?? "-", target.channelId, target.messageId);
    const cached = this.requestIds.get(key);
    if (cached !== undefined) return cached;
    let stored: string | null;
    try {
      stored = await this.redis.get(key);
    } catch {
      return "";
    }
    // A miss is remembered too: the adapter maps a placeholder before it queues the request.
    this.cache(key, stored ?? "");
    return stored ?? "";
  }

  private cache(key: string, requestId: string): void {
    if (this.requestIds.size >= CACHE_MAX) {
      const oldest = this.requestIds.keys().next().value;
      if (oldest !== undefined) this.requestIds.delete(oldest);
    }
    this.requestIds.set(key, requestId);
  }

  private async failed(err: unknown, target: ReplyTarget, what: string): Promise<Error> {
    const mapped = toPlatformError(err, what);
    if (mapped instanceof PlatformRateLimitedError) {
      this.logger.warn(
        { retryAfterMs: mapped.retryAfterMs, workspace: target.workspaceId },
        "Slack rate limit (429): the workspace's edits wait",
      );
      await this.budget.penalize(target.workspaceId ?? "-", mapped.retryAfterMs).catch(() => undefined);
    }
    return mapped;
  }

  private client(token: string): WebClient {
    let client = this.clients.get(token);
    if (!client) {
      client = new webApi.WebClient(token, this.clientOptions);
      this.clients.set(token, client);
    }
    return client;
  }

  /** The client of a workspace's token (one token: always that one). */
  private async clientFor(workspaceId: string | undefined): Promise<WebClient> {
    if (this.tokens.length === 1) return this.client(this.tokens[0]!);
    this.workspaces ??= resolveWorkspaces(this.tokens, this.clientOptions).catch((err: unknown) => {
      this.workspaces = undefined;
      throw err;
    });
    const ws = workspaceFor(await this.workspaces, workspaceId);
    return this.client(ws?.token ?? this.tokens[0]!);
  }
}

/** The Slack reply sink of a worker process (needs SLACK_BOT_TOKEN there). */
export function createSlackSink(config: Config, logger: Logger, redis: Redis, keys: Keys, options: SlackSinkOptions = {}): SlackSink {
  return new SlackSink(config, logger.child({ platform: "slack" }), redis, keys, options);
}
