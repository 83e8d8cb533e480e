/**
 * The worker's Discord reply sink: edits the placeholder and posts overflow messages through
 * Discord's REST API alone (no gateway), with mentions disabled on every write.
 *
 * Rate limits: the REST client rejects instead of queueing (`rejectOnRateLimit`), and a 429 —
 * or a bucket known to be empty — becomes a PlatformRateLimitedError carrying the wait. The
 * ReplyStreamer then skips the stale intermediate text and sends the latest one after the
 * wait; the final edit is retried by the streamer until it lands.
 *
 * Buttons: the adapter posts the placeholder with a Stop button. Intermediate edits leave the
 * components alone (so a Stop the user already pressed is not brought back); overflow messages
 * get their own Stop button while streaming (every one stops the same request); the final
 * delivery removes them all and puts Regenerate on the reply's last message.
 */
import { type APIMessage, DiscordAPIError, HTTPError, RateLimitError, REST, Routes } from "discord.js";
import type { Config } from "../../src/config.ts";
import { PlatformError, PlatformRateLimitedError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import { composeWithNote } from "../../src/text/composeWithNote.ts";
import { DISCORD_MAX_LENGTH } from "../../src/text/splitMessage.ts";
import type { EditOptions, ReplySink, ReplyTarget } from "../../src/types.ts";
import { NO_MENTIONS, regenerateRow, stopRow } from "./discordComponents.ts";
import { placeholderText } from "./discordConversation.ts";

/** Where a reply whose channel is gone "lives": edits to it are dropped. */
const GONE_MESSAGE_ID = "0";
/** Errors after which the message or channel cannot be written any more: retrying cannot help. */
const GONE_CODES = new Set([10003, 10008, 50001, 50013, 50083]);
/** What an empty message shows (Discord refuses empty content); never gets a Regenerate button. */
const EMPTY_TEXT = "…";

export interface DiscordSinkOptions {
  /** A ready REST client (tests); default: one from the config's token and DISCORD_API_URL. */
  rest?: REST;
  /** Raise the edit interval per message above STREAM_INTERVAL_MS. */
  minEditIntervalMs?: number;
}

/** A REST client for the worker: rejects on rate limits so the streamer decides what to send next. */
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
  return new DiscordSink(opts.rest ?? createDiscordRest(config), logger.child({ platform: "discord" }), opts.minEditIntervalMs);
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

  constructor(
    private readonly rest: REST,
    private readonly logger: Logger,
    readonly minEditIntervalMs?: number,
  ) {}

  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    if (target.messageId === GONE_MESSAGE_ID) return;
    const content = discordContent(withNote(text, opts.note));
    const body: Record<string, unknown> = { content, allowed_mentions: NO_MENTIONS };
    // Final: the Stop button goes; the reply's last message gets Regenerate.
    if (opts.final) body.components = opts.last && hasAnswer(text) && target.requestId ? [regenerateRow(target.requestId)] : [];
    try {
      await this.rest.patch(Routes.channelMessage(target.channelId, target.messageId), { body });
    } catch (err) {
      if (isGone(err)) {
        this.logger.warn(
          { channelId: target.channelId, messageId: target.messageId, code: (err as DiscordAPIError).code },
          "reply message is gone; dropping the edit",
        );
        return;
      }
      throw translate(err, "edit");
    }
  }

  /** A waiting reply's place in line, in its placeholder (the Stop button stays). */
  async queued(target: ReplyTarget, ahead: number): Promise<void> {
    if (target.messageId === GONE_MESSAGE_ID) return;
    try {
      await this.rest.patch(Routes.channelMessage(target.channelId, target.messageId), {
        body: { content: placeholderText(ahead), allowed_mentions: NO_MENTIONS },
      });
    } catch (err) {
      if (!isGone(err)) throw translate(err, "queued");
    }
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
    let posted: APIMessage;
    try {
      posted = (await this.rest.post(Routes.channelMessages(after.channelId), {
        body: {
          content,
          allowed_mentions: NO_MENTIONS,
          message_reference: { message_id: after.messageId, fail_if_not_exists: false },
          components,
        },
      })) as APIMessage;
    } catch (err) {
      if (isGone(err)) {
        this.logger.warn(
          { channelId: after.channelId, code: (err as DiscordAPIError).code },
          "reply channel is gone; dropping the rest of the reply",
        );
        return { ...after, messageId: GONE_MESSAGE_ID };
      }
      throw translate(err, "post");
    }
    return { ...after, messageId: posted.id };
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
