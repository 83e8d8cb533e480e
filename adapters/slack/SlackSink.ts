/**
 * The worker's side of Slack: delivers a reply through the Web API alone (no socket) — natively
 * streamed where the workspace allows it (`SlackStreams`: `chat.startStream` / `appendStream` /
 * `stopStream`), else by editing the placeholder with `chat.update` and posting overflow messages
 * in the same thread with `chat.postMessage` (today's path, and every stream fault's fallback).
 *
 * - Text is the model's Markdown converted to mrkdwn with every mention escaped (`formatForSlack`)
 *   on the edit path; a stream gets the Markdown itself with mentions escaped (`escapeSlackMarkdown`).
 * - While a reply is written, the placeholder carries the Stop button (value: the request id) —
 *   its text in section blocks above it on the edit path; on the streaming path the answer grows
 *   in its own message below and the placeholder is deleted when it is done. The final edit sends
 *   `blocks: []`, which removes the button.
 * - Every `chat.update`, post and delete takes a slot of the workspace's edit budget
 *   (`SlackEditBudget`, in Redis, SLACK_EDITS_PER_MINUTE); every `chat.appendStream` a slot of its
 *   stream budget (SLACK_STREAM_UPDATES_PER_MINUTE, halved for a minute after a 429). A 429 is
 *   thrown as PlatformRateLimitedError(Retry-After) for the ReplyStreamer to wait out, and pushes
 *   the workspace's budget back as well.
 * - The thread status ("is thinking…", the place in line) is set with `assistant.threads.setStatus`
 *   where the workspace allows it, and cleared with the final edit.
 * - The WebClient neither retries nor queues on its own (`rejectRateLimitedCalls`, no retries):
 *   the ReplyStreamer decides, so nothing bypasses the budgets.
 * - A reply message found deleted (`message_not_found`: an admin removed it) is a ReplyGoneError:
 *   the worker stops generating, posts nothing more and remembers nothing of it.
 */

import { webApi } from "@slack/bolt";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config.ts";
import { PlatformError, PlatformRateLimitedError, ReplyGoneError } from "../../src/errors.ts";
import { type Keys, SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { SLACK_MAX_LENGTH } from "../../src/text/splitMessage.ts";
import type { EditOptions, ReplyImage, ReplySink, ReplyTarget } from "../../src/types.ts";
import { editBudgetKeys, SlackEditBudget, streamBudgetKeys } from "./SlackEditBudget.ts";
import { SlackFeatures, waitingStatus } from "./SlackFeatures.ts";
import { SlackImageUploads } from "./SlackImageUploads.ts";
import { SlackStreams } from "./SlackStreams.ts";
import { slackError, toPlatformError } from "./slackApiErrors.ts";
import { PLACEHOLDER_TEXT, slackReplyText, slackTextWithNote, streamingBlocks, waitingText } from "./slackMessages.ts";
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
  /** The edit budget's window (default 60 000 ms: SLACK_EDITS_PER_MINUTE per minute). Tests shrink it. */
  budgetWindowMs?: number;
  /** The stream budget's window (default 60 000 ms: SLACK_STREAM_UPDATES_PER_MINUTE per minute). Tests shrink it. */
  streamBudgetWindowMs?: number;
  /** Extra WebClient options (tests). */
  clientOptions?: WebClientOptions;
}

/** How long the message → request mapping (for the Stop button) is kept. */
export const MESSAGE_REQUEST_TTL_SECONDS = 24 * 3600;
/** The documented floor of Tier 4 (`chat.appendStream`): the stream budget never slows below it. */
const TIER4_FLOOR_PER_MINUTE = 100;
const CACHE_MAX = 5000;
const ANSWERING_BELOW = "✍️ Answering below…";

export class SlackSink implements ReplySink {
  readonly maxLength = SLACK_MAX_LENGTH;
  readonly minEditIntervalMs: number;
  readonly budget: SlackEditBudget;
  readonly streamBudget: SlackEditBudget;
  readonly features: SlackFeatures;
  private readonly streams: SlackStreams;
  private readonly images: SlackImageUploads;
  private readonly slackKeys: SlackKeys;
  private readonly tokens: string[];
  private readonly clientOptions: NonNullable<WebClientOptions>;
  private readonly clients = new Map<string, WebClient>();
  private workspaces: Promise<SlackWorkspace[]> | undefined;
  private readonly requestIds = new Map<string, string>();
  /** Placeholders this process has shown a reply's text in (their next edits are not a first text). */
  private readonly showing = new Set<string>();

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
    const windowMs = options.budgetWindowMs;
    this.budget = new SlackEditBudget(redis, editBudgetKeys(this.slackKeys), { limit: config.SLACK_EDITS_PER_MINUTE, windowMs });
    this.streamBudget = new SlackEditBudget(redis, streamBudgetKeys(this.slackKeys), {
      limit: config.SLACK_STREAM_UPDATES_PER_MINUTE,
      windowMs: options.streamBudgetWindowMs,
      floor: Math.ceil((TIER4_FLOOR_PER_MINUTE * (options.streamBudgetWindowMs ?? 60_000)) / 60_000),
    });
    this.minEditIntervalMs = this.budget.intervalMs;
    this.clientOptions = webClientOptions(config, {
      ...options.clientOptions,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
    });
    this.features = new SlackFeatures(redis, this.slackKeys, logger);
    this.streams = new SlackStreams({
      enabled: config.SLACK_STREAMING,
      redis,
      keys: this.slackKeys,
      logger,
      features: this.features,
      editBudget: this.budget,
      streamBudget: this.streamBudget,
      client: (team) => this.clientFor(team),
      onStreamStarted: (placeholder) => this.answeringBelow(placeholder),
      remember: async (placeholder, ts) => {
        const requestId = await this.requestIdFor(placeholder);
        if (requestId) await this.rememberRequest({ ...placeholder, messageId: ts }, requestId);
      },
      removePlaceholder: (placeholder) => this.removePlaceholder(placeholder),
    });
    this.images = new SlackImageUploads({
      logger,
      client: (team) => this.clientFor(team),
      editSlot: (target) => this.editSlot(target),
      failed: (err, target, what) => this.failed(err, target, what),
      previewIntervalMs: config.SLACK_IMAGE_PREVIEW_INTERVAL_MS,
    });
  }

  /** /imagine: each picture is a file shared into the reply's thread, replacing the preview before it (SlackImageUploads). */
  showImage(target: ReplyTarget, image: ReplyImage): Promise<undefined> {
    return this.images.show(target, image);
  }

  /** A reply's Markdown as sent (mrkdwn, escapes): the ReplyStreamer splits so every message fits. */
  sentLength(text: string): number {
    return slackReplyText(text).length;
  }

  /**
   * Everything slow (token lookup, the request id) happens here, before the call, so that it goes
   * out right when its slot comes. The slot itself is taken by the call that is made: an edit-budget
   * slot for `chat.update`, posts and deletes, a stream-budget slot for appends.
   */
  async acquireBudget(target: ReplyTarget): Promise<void> {
    await this.clientFor(target.workspaceId).catch(() => undefined);
    await this.requestIdFor(target);
  }

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    if (await this.streams.edit(target, text, opts)) return;
    const client = await this.clientFor(target.workspaceId);
    const body = slackTextWithNote(text, opts.note);
    const blocks = opts.final ? [] : streamingBlocks(body, await this.requestIdFor(target));
    // A reply's first text goes before further edits of replies that already show text.
    const shownKey = `${target.workspaceId ?? "-"}|${target.channelId}|${target.messageId}`;
    const first = target.userId !== undefined && !this.showing.has(shownKey);
    await this.editSlot(target, first);
    try {
      await client.chat.update({ channel: target.channelId, ts: target.messageId, text: body, blocks });
      if (first) this.remember(this.showing, shownKey);
    } catch (err) {
      if (slackError(err) === "message_not_found") {
        // Someone (an admin) deleted the reply: the reply stops, nothing more is posted for it.
        throw new ReplyGoneError(`slack chat.update: the message is gone (message_not_found)`);
      }
      throw await this.failed(err, target, "chat.update");
    }
    if (opts.final && target.userId && target.threadId && target.workspaceId) {
      await this.features.setStatus(client, target.workspaceId, target.channelId, target.threadId, "");
    }
  }

  /**
   * The line moved: show a waiting message's place in line — in the thread's status where the
   * workspace allows it, and in its placeholder when the edit budget has a slot free right now
   * (first texts go first); else PlatformRateLimitedError: the PlaceNotifier asks again later
   * with the newest place (coalesced, never dropped).
   */
  async queued(target: ReplyTarget, ahead: number): Promise<void> {
    if (target.threadId && target.workspaceId) {
      const client = await this.clientFor(target.workspaceId);
      await this.features.setStatus(client, target.workspaceId, target.channelId, target.threadId, waitingStatus(ahead));
    }
    let wait: number;
    try {
      wait = await this.budget.confirm(target.workspaceId ?? "-");
    } catch {
      return;
    }
    if (wait > 0) throw new PlatformRateLimitedError(wait);
    const client = await this.clientFor(target.workspaceId);
    const text = waitingText(ahead);
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

  /**
   * Generation started for a placeholder that showed a place in line: "⏳ Thinking…" (Stop stays),
   * if an edit slot is free right now — else the first text, which goes first, replaces it soon.
   */
  async started(target: ReplyTarget): Promise<void> {
    try {
      if ((await this.budget.confirm(target.workspaceId ?? "-")) > 0) return;
    } catch {
      return;
    }
    const client = await this.clientFor(target.workspaceId);
    const blocks = streamingBlocks(PLACEHOLDER_TEXT, await this.requestIdFor(target));
    try {
      await client.chat.update({ channel: target.channelId, ts: target.messageId, text: PLACEHOLDER_TEXT, blocks });
    } catch (err) {
      if (slackError(err) === "message_not_found") throw new ReplyGoneError("slack chat.update: the placeholder is gone");
      throw await this.failed(err, target, "chat.update");
    }
  }

  async post(after: ReplyTarget, text: string, opts?: EditOptions): Promise<ReplyTarget> {
    const streamed = await this.streams.post(after, text, opts ?? { final: false });
    if (streamed) {
      const requestId = await this.requestIdFor(after);
      if (requestId) await this.rememberRequest(streamed, requestId);
      return streamed;
    }
    const client = await this.clientFor(after.workspaceId);
    const threadTs = after.threadId ?? after.messageId;
    let ts: string | undefined;
    await this.editSlot(after);
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
    this.streams.postedPlain(posted, opts);
    return posted;
  }

  /** Takes a slot of the workspace's edit budget (a Redis hiccup: go ahead; Slack's own 429s are still honoured). */
  private async editSlot(target: ReplyTarget, first = false): Promise<void> {
    try {
      await this.budget.acquire(target.workspaceId ?? "-", { first });
    } catch (err) {
      this.logger.warn({ err }, "could not take a slot of the Slack edit budget; editing anyway");
    }
  }

  /** The answer streams below the placeholder: say so there, if an edit slot is free right now (best effort). */
  private async answeringBelow(placeholder: ReplyTarget): Promise<void> {
    try {
      if ((await this.budget.confirm(placeholder.workspaceId ?? "-")) > 0) return;
      const client = await this.clientFor(placeholder.workspaceId);
      const blocks = streamingBlocks(ANSWERING_BELOW, await this.requestIdFor(placeholder));
      await client.chat.update({ channel: placeholder.channelId, ts: placeholder.messageId, text: ANSWERING_BELOW, blocks });
    } catch (err) {
      this.logger.debug({ err: slackError(err) ?? String(err) }, "could not update the placeholder above a stream");
    }
  }

  /** The streamed answer is complete: the placeholder, there for its Stop button, is deleted (or emptied if that fails). */
  private async removePlaceholder(placeholder: ReplyTarget): Promise<void> {
    const client = await this.clientFor(placeholder.workspaceId);
    // Forgotten first: the adapter takes the deletion Slack reports for the bot's own doing, not a Stop.
    await this.forgetRequest(placeholder);
    await this.editSlot(placeholder);
    try {
      await client.chat.delete({ channel: placeholder.channelId, ts: placeholder.messageId });
    } catch (err) {
      if (slackError(err) === "message_not_found") return;
      this.logger.warn({ err: slackError(err) ?? String(err) }, "could not delete the placeholder above a streamed answer");
      await client.chat.update({ channel: placeholder.channelId, ts: placeholder.messageId, text: "⤵️", blocks: [] }).catch(() => undefined);
    }
  }

  /** Remembers which request a message belongs to (the Stop button's target). */
  async rememberRequest(target: ReplyTarget, requestId: string): Promise<void> {
    const key = this.slackKeys.messageRequest(target.workspaceId ?? "-", target.channelId, target.messageId);
    this.cache(key, requestId);
    await this.redis
      .set(key, requestId, "EX", MESSAGE_REQUEST_TTL_SECONDS)
      .catch((err: unknown) => this.logger.warn({ err }, "could not store a message's request id"));
  }

  /** The message no longer belongs to a request (the bot deletes it itself). */
  private async forgetRequest(target: ReplyTarget): Promise<void> {
    const key = this.slackKeys.messageRequest(target.workspaceId ?? "-", target.channelId, target.messageId);
    this.requestIds.delete(key);
    await this.redis.del(key).catch((err: unknown) => this.logger.warn({ err }, "could not forget a message's request id"));
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

  private remember(set: Set<string>, key: string): void {
    if (set.size >= CACHE_MAX) {
      const oldest = set.values().next().value;
      if (oldest !== undefined) set.delete(oldest);
    }
    set.add(key);
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

  /**
   * The client of a workspace's token (one token: always that one — the adapter answers no other
   * workspace). Several: the workspace's own, never another's; none is a ReplyGoneError (nothing
   * can be shown there, the reply stops).
   */
  private async clientFor(workspaceId: string | undefined): Promise<WebClient> {
    if (this.tokens.length === 1) return this.client(this.tokens[0]!);
    this.workspaces ??= resolveWorkspaces(this.tokens, this.clientOptions).catch((err: unknown) => {
      this.workspaces = undefined;
      throw err;
    });
    const ws = workspaceFor(await this.workspaces, workspaceId);
    if (!ws) {
      this.logger.error({ workspace: workspaceId }, "no bot token for this workspace; its reply is dropped");
      throw new ReplyGoneError(`slack: no bot token for workspace ${workspaceId ?? "(none)"}`);
    }
    return this.client(ws.token);
  }
}

/** The Slack reply sink of a worker process (needs SLACK_BOT_TOKEN there). */
export function createSlackSink(config: Config, logger: Logger, redis: Redis, keys: Keys, options: SlackSinkOptions = {}): SlackSink {
  return new SlackSink(config, logger.child({ platform: "slack" }), redis, keys, options);
}
