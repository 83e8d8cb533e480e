/**
 * The worker's Discord reply sink: edits the placeholder and posts overflow messages through
 * Discord's REST API alone (no gateway), with mentions disabled on every write.
 *
 * Rate limits: the REST client rejects instead of queueing (`rejectOnRateLimit`), and a 429 —
 * or a bucket known to be empty, in this process or (DiscordRateLimits, through Redis) in the
 * adapter or another worker — becomes a PlatformRateLimitedError carrying the wait. The
 * ReplyStreamer then skips the stale intermediate text and sends the latest one after the wait;
 * the final edit is retried by the streamer until it lands. A place-in-line update leaves the
 * last edit of a channel's window to the replies that stream (it waits instead).
 *
 * Idempotent creates: every follow-up carries a nonce derived from the request and its part, with
 * `enforce_nonce`, so a create retried by the REST client (after a 5xx that Discord had saved) or
 * by a retried job returns the message already there; its text is then brought up to date.
 *
 * Gone: when Discord says the message (or its channel, or the bot's access) is gone, the sink
 * throws ReplyGoneError — the reply is stopped and nothing more is posted for it.
 *
 * Buttons: the adapter posts the placeholder with a Stop button. Intermediate edits leave the
 * components alone (so a Stop the user already pressed is not brought back); overflow messages
 * get their own Stop button while streaming (every one stops the same request); the final
 * delivery removes them all and puts Regenerate on the reply's last message.
 */
import { type APIMessage, DiscordAPIError, HTTPError, RateLimitError, REST, Routes } from "discord.js";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config.ts";
import { PlatformError, PlatformRateLimitedError, ReplyGoneError } from "../../src/errors.ts";
import { DiscordKeys, type Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { SharedRateLimits } from "../../src/stream/SharedRateLimits.ts";
import { composeWithNote } from "../../src/text/composeWithNote.ts";
import { DISCORD_MAX_LENGTH } from "../../src/text/splitMessage.ts";
import type { EditOptions, ReplyImage, ReplySink, ReplyTarget } from "../../src/types.ts";
import { NO_MENTIONS, regenerateRow, replyNonce, stopRow } from "./discordComponents.ts";
import { THINKING_TEXT, waitingText } from "./discordConversation.ts";
import { DiscordRateLimits } from "./discordRateLimits.ts";

/** Where a reply whose channel was gone before this version "lived": edits to it are dropped. */
const GONE_MESSAGE_ID = "0";
/** Errors after which the message or channel cannot be written any more: retrying cannot help. */
const GONE_CODES = new Set([10003, 10008, 50001, 50013, 50083]);
/** What an empty message shows (Discord refuses empty content); never gets a Regenerate button. */
const EMPTY_TEXT = "…";
/** Least time between two preview uploads into one message (ms): a preview sooner than this is skipped (the next or the final one follows). */
export const IMAGE_PREVIEW_MIN_INTERVAL_MS = 3000;
/** Longest attachment description (alt text) Discord keeps. */
const ALT_TEXT_MAX = 1024;
/** How long a follow-up's message → request mapping is kept (its deletion stops the reply). */
export const REPLY_MESSAGE_TTL_SECONDS = 24 * 3600;

export interface DiscordSinkOptions {
  /** A ready REST client (tests); default: one from the config's token and DISCORD_API_URL. */
  rest?: REST;
  /** Raise the edit interval per message above STREAM_INTERVAL_MS. */
  minEditIntervalMs?: number;
  /** Share rate limits with the adapter and other workers, and map follow-ups to their request. */
  redis?: Redis;
  keys?: Keys;
  /** Least time between two preview uploads into one message (default IMAGE_PREVIEW_MIN_INTERVAL_MS). */
  minPreviewIntervalMs?: number;
}

/**
 * A REST client for the worker: rejects on rate limits so the streamer decides what to send next.
 * Retries after a 5xx or a reset are safe: edits are idempotent and creates carry an enforced nonce.
 */
export function createDiscordRest(config: Pick<Config, "DISCORD_TOKEN" | "DISCORD_API_URL">): REST {
  if (!config.DISCORD_TOKEN) throw new Error("DISCORD_TOKEN is not set");
  return new REST({
    version: "10",
    ...(config.DISCORD_API_URL ? { api: config.DISCORD_API_URL } : {}),
    rejectOnRateLimit: () => true,
    retries: 2,
    timeout: 15_000,
  }).setToken(config.DISCORD_TOKEN);
}

export function createDiscordSink(
  config: Pick<Config, "DISCORD_TOKEN" | "DISCORD_API_URL">,
  logger: Logger,
  opts: DiscordSinkOptions = {},
): DiscordSink {
  const rest = opts.rest ?? createDiscordRest(config);
  let limits: DiscordRateLimits | undefined;
  if (opts.redis && opts.keys) {
    limits = new DiscordRateLimits(new SharedRateLimits(opts.redis, opts.keys));
    limits.attach(rest);
  }
  const replies = opts.redis && opts.keys ? { redis: opts.redis, keys: new DiscordKeys(opts.keys) } : undefined;
  const sink = new DiscordSink(rest, logger.child({ platform: "discord" }), opts.minEditIntervalMs, limits, replies);
  if (opts.minPreviewIntervalMs !== undefined) sink.minPreviewIntervalMs = opts.minPreviewIntervalMs;
  return sink;
}

const ONLY_NOTE = /^\s*-# ([^\n]*)$/;

/** The text as Discord shows it: never empty; a note alone is shown as a plain line. */
export function discordContent(text: string): string {
  const onlyNote = ONLY_NOTE.exec(text);
  const content = onlyNote ? onlyNote[1]! : text;
  return content.trim().length === 0 ? EMPTY_TEXT : content;
}

/** The text with the note under it as Discord subtext (`-# note`), shortened to keep the message within 2000 characters. */
export function withNote(text: string, note: string | undefined): string {
  return composeWithNote((n) => (n ? `${text}\n-# ${n.replace(/\s*\n\s*/g, " ")}` : text), note, DISCORD_MAX_LENGTH);
}

/** An answer that can be regenerated: there is text besides a note (not a refusal or an error). */
function hasAnswer(text: string): boolean {
  return text.trim().length > 0 && !ONLY_NOTE.test(text);
}

export class DiscordSink implements ReplySink {
  readonly maxLength = DISCORD_MAX_LENGTH;
  minPreviewIntervalMs = IMAGE_PREVIEW_MIN_INTERVAL_MS;
  /** When each message last got a preview (skipped ones do not count); final images clear it. */
  private readonly previewAt = new Map<string, number>();

  constructor(
    private readonly rest: REST,
    private readonly logger: Logger,
    readonly minEditIntervalMs?: number,
    private readonly limits?: DiscordRateLimits,
    private readonly replies?: { redis: Redis; keys: DiscordKeys },
  ) {}

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    if (target.messageId === GONE_MESSAGE_ID) return;
    const content = discordContent(withNote(text, opts.note));
    const body: Record<string, unknown> = { content, allowed_mentions: NO_MENTIONS };
    // Final: the Stop button goes; the reply's last message gets Regenerate.
    if (opts.final) body.components = opts.last && hasAnswer(text) && target.requestId ? [regenerateRow(target.requestId)] : [];
    await this.patch(target, body, "edit");
  }

  /** A waiting reply's place in line, in its placeholder (the Stop button stays); never the last edit of a window. */
  async queued(target: ReplyTarget, ahead: number): Promise<void> {
    await this.patch(target, { content: waitingText(ahead), allowed_mentions: NO_MENTIONS }, "queued", 1);
  }

  /** Generation started: the placeholder that showed a place in line says "Thinking…" (the Stop button stays). */
  async started(target: ReplyTarget): Promise<void> {
    await this.patch(target, { content: THINKING_TEXT, allowed_mentions: NO_MENTIONS }, "started");
  }

  /**
   * An image into the reply message, replacing the one shown before: a multipart PATCH whose
   * `attachments` lists only the new file (Discord drops the others). A preview sooner than
   * `minPreviewIntervalMs` after the last one is skipped — uploads are heavy and share the
   * channel's edit budget; the final image always goes, without the Stop button and with
   * Regenerate. A refused upload (too large: 413; no Attach Files permission) is a 4xx
   * PlatformError, so the worker says so in text.
   */
  async showImage(target: ReplyTarget, image: ReplyImage): Promise<undefined> {
    if (target.messageId === GONE_MESSAGE_ID) return undefined;
    const last = this.previewAt.get(target.messageId);
    if (!image.final && last !== undefined && Date.now() - last < this.minPreviewIntervalMs) {
      this.logger.debug({ messageId: target.messageId }, "preview skipped: the last one is too recent");
      return undefined;
    }
    const body: Record<string, unknown> = {
      content: discordContent(image.caption),
      allowed_mentions: NO_MENTIONS,
      attachments: [{ id: 0, filename: image.filename, description: image.alt.slice(0, ALT_TEXT_MAX) }],
    };
    // Intermediate previews leave the buttons alone (a Stop already pressed is not brought back).
    if (image.final) body.components = target.requestId ? [regenerateRow(target.requestId)] : [];
    const route = Routes.channelMessage(target.channelId, target.messageId);
    try {
      await this.waitBudget("PATCH", route, 0, "image");
      await this.rest.patch(route, { body, files: [{ name: image.filename, data: image.bytes, contentType: image.mime }] });
    } catch (err) {
      if (err instanceof DiscordAPIError && err.code === 50013) {
        // Missing Attach Files: the message is still there; only the picture is refused.
        throw new PlatformError(`discord image refused: ${err.status} ${err.code} ${err.message}`, err.status, { cause: err });
      }
      throw this.failure(err, "image", target);
    }
    if (image.final) this.previewAt.delete(target.messageId);
    else this.previewAt.set(target.messageId, Date.now());
    return undefined;
  }

  async post(after: ReplyTarget, text: string, opts?: EditOptions): Promise<ReplyTarget> {
    if (after.messageId === GONE_MESSAGE_ID) return after;
    const content = discordContent(withNote(text, opts?.note));
    const final = opts?.final === true;
    const components = !after.requestId
      ? []
      : !final
        ? [stopRow(after.requestId)]
        : opts?.last && hasAnswer(text)
          ? [regenerateRow(after.requestId)]
          : [];
    const route = Routes.channelMessages(after.channelId);
    const nonce = after.requestId && opts?.part !== undefined ? replyNonce(after.requestId, opts.part) : undefined;
    const body: Record<string, unknown> = {
      content,
      allowed_mentions: NO_MENTIONS,
      message_reference: { message_id: after.messageId, fail_if_not_exists: false },
      components,
      ...(nonce ? { nonce, enforce_nonce: true } : {}),
    };
    let posted: APIMessage;
    try {
      await this.waitBudget("POST", route, 0, "post");
      posted = (await this.rest.post(route, { body })) as APIMessage;
    } catch (err) {
      throw this.failure(err, "post", after);
    }
    const target = { ...after, messageId: posted.id };
    if (posted.content.trim() !== content.trim()) {
      // The nonce found this part created by an earlier try, with older text: bring it up to date.
      this.logger.info({ channelId: after.channelId, messageId: posted.id }, "follow-up already created (nonce); updating it");
      await this.patch(target, { content, components, allowed_mentions: NO_MENTIONS }, "post");
    }
    if (this.replies && after.requestId) {
      await this.replies.redis
        .set(this.replies.keys.replyMessage(posted.id), after.requestId, "EX", REPLY_MESSAGE_TTL_SECONDS)
        .catch(() => undefined);
    }
    return target;
  }

  private async patch(target: ReplyTarget, body: Record<string, unknown>, what: string, reserve = 0): Promise<void> {
    if (target.messageId === GONE_MESSAGE_ID) return;
    const route = Routes.channelMessage(target.channelId, target.messageId);
    try {
      await this.waitBudget("PATCH", route, reserve, what);
      await this.rest.patch(route, { body });
    } catch (err) {
      throw this.failure(err, what, target);
    }
  }

  /** Throws PlatformRateLimitedError when the shared state says this bucket must wait (keeping `reserve` requests). */
  private async waitBudget(method: string, route: string, reserve: number, what: string): Promise<void> {
    const wait = (await this.limits?.waitMs(method, route, reserve)) ?? 0;
    if (wait > 0) throw new PlatformRateLimitedError(wait, `discord ${what} waits for the channel's rate limit (${wait} ms)`);
  }

  /** A REST failure as the streamer understands it: gone, rate limited, or a platform error. */
  private failure(err: unknown, what: string, target: ReplyTarget): Error {
    if (err instanceof PlatformRateLimitedError) return err;
    if (isGone(err)) {
      const code = (err as DiscordAPIError).code;
      this.logger.warn({ channelId: target.channelId, messageId: target.messageId, code }, `reply message is gone (${what})`);
      return new ReplyGoneError(`discord ${what}: the message is gone (${code})`);
    }
    return translate(err, what);
  }
}

function isGone(err: unknown): boolean {
  return err instanceof DiscordAPIError && typeof err.code === "number" && GONE_CODES.has(err.code);
}

/** A REST failure as the streamer understands it. */
function translate(err: unknown, what: string): Error {
  if (err instanceof RateLimitError) {
    return new PlatformRateLimitedError(
      Math.max(1, Math.ceil(err.retryAfter || err.timeToReset || 1000)),
      `discord ${what} rate limited (${err.route}${err.global ? ", global" : ""})`,
    );
  }
  if (err instanceof DiscordAPIError) {
    return new PlatformError(`discord ${what} failed: ${err.status} ${err.code} ${err.message}`, err.status, { cause: err });
  }
  if (err instanceof HTTPError) return new PlatformError(`discord ${what} failed: HTTP ${err.status}`, err.status, { cause: err });
  return new PlatformError(`discord ${what} failed: ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
}
