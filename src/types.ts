/** Core types shared by adapters, workers and sinks: a request, where its reply lives, and the sink that shows it. */
import type { RequestContext } from "./context/RequestContext.ts";
import type { ImageMime } from "./images/imageBytes.ts";
import type { ImagineOptions } from "./images/imagineOptions.ts";

export type Platform = "discord" | "slack" | "local";

/**
 * Identifies one conversation (one memory):
 * `discord:<guildId|dm>:<channelId>[:<threadId>]` · `slack:<teamId>:<channelId>[:<threadTs>]` · `local:<room>[:<thread>]`
 */
export type ConversationKey = string;

/** Where a reply lives: the placeholder message the adapter posted, which the worker edits. */
export interface ReplyTarget {
  platform: Platform;
  /** Discord channel or thread id; Slack channel id; local: the room. */
  channelId: string;
  /** Slack thread_ts; unused on Discord (threads are channels there). */
  threadId?: string;
  /** Discord message id; Slack message ts; local: the reply stream id. */
  messageId: string;
  /** Slack team id / Discord guild id, when the sink needs it (per-workspace budgets). */
  workspaceId?: string;
  /** The request this reply answers, when the sink needs it (Discord: Stop/Regenerate button ids). */
  requestId?: string;
  /** Who asked, when the sink needs it (Slack: the recipient of a native stream outside DMs). */
  userId?: string;
}

/**
 * Where a message was posted, as the per-place settings see it (src/settings/): the workspace
 * (Discord server — `dm` for direct messages —, Slack team, `local`), the channel (a thread's
 * parent channel inside a thread) and the thread (Discord thread id, Slack thread_ts).
 */
export interface ChatPlace {
  platform: Platform;
  workspaceId: string;
  channelId: string;
  threadId?: string;
}

export interface ChatAuthor {
  id: string;
  name: string;
}

/** One user message, normalized by an adapter. Stored as inbox data: plain JSON. */
export interface ChatRequest {
  /** Stable per platform message: the dedupe key. */
  requestId: string;
  conversationKey: ConversationKey;
  author: ChatAuthor;
  /** Bot mention stripped, normalized. */
  text: string;
  receivedAt: number;
  reply: ReplyTarget;
  /** When set, this request regenerates the last answer instead of adding a user turn. */
  regenerate?: boolean;
  /** Where it was posted: the worker answers with that place's settings (absent: the defaults). */
  place?: ChatPlace;
  /** What the message points at (a replied-to message, the thread, files), shown to the model before the text. */
  context?: RequestContext;
}

/**
 * An /imagine request: a ChatRequest (its `text` is the prompt) with the checked options, queued
 * in the image lane (src/keys.ts ImageKeys) and answered by an image worker. Plain JSON.
 */
export interface ImagineRequest extends ChatRequest {
  kind: "imagine";
  /** Checked, defaults applied, the seed drawn: a retry after a crash makes the same picture. */
  imagine: ImagineOptions;
  /** Regenerate: the request whose picture this one makes again with a new seed. */
  regenerateOf?: string;
}

/** An image shown in a reply: a preview while the engine works, then the result. */
export interface ReplyImage {
  bytes: Buffer;
  mime: ImageMime;
  /** Name for the upload: `imagine-<seed>.png` for the result, `preview-<step>.png` while it works. */
  filename: string;
  /** Alt text: the prompt (at most 1000 characters). */
  alt: string;
  /**
   * Text shown with the image, like reply text (Markdown, mentions escaped by the sink), shorter
   * than `maxLength`: the step while it works; prompt, size, steps and seed under the result.
   */
  caption: string;
  /** The reply's last update: must land (retried through rate limits); Stop buttons go (Regenerate may come). */
  final: boolean;
  /** The generation ended early (Stop, timeout, engine failure): this is where it got to. */
  stopped?: boolean;
}

export interface EditOptions {
  /** The last edit of a reply: must land (retried through rate limits). */
  final: boolean;
  /** This is the reply's last message (Discord puts the Regenerate button there). */
  last?: boolean;
  /**
   * A short note shown under the text (stopped, trimmed memory, …). Each sink shows it its own
   * way (Discord: a subtext line; Slack: an italic line; local: a separate field) and keeps the
   * message within `maxLength`, shortening the note when it has to.
   */
  note?: string;
  /**
   * Which delivery attempt of the reply this is (one per ReplyStreamer): a sink that keeps state per
   * reply (Slack's native streams) tells its own messages from those a crashed attempt left behind.
   */
  attempt?: string;
  /**
   * The fence the splitter added at the end of `text` to close a code block the reply is still
   * inside ("" or absent: none). An append-only sink leaves it out until the text is final.
   */
  closing?: string;
  /**
   * Which message of the reply this is (0: the placeholder, 1…: follow-ups). Sinks derive what
   * makes a create idempotent from it (Discord: the nonce of a follow-up).
   */
  part?: number;
}

/**
 * Delivers a reply's text to where the user sees it. One implementation per platform. A sink that
 * learns its message is gone (deleted, channel removed) throws ReplyGoneError from `edit`/`post`.
 */
export interface ReplySink {
  /** The longest text one message may carry; longer replies continue in follow-up messages. */
  readonly maxLength: number;
  /**
   * How long `text` is once the sink has converted it for sending (Slack: mrkdwn with escapes),
   * when that can be longer than `text`: replies are split so that every message fits as sent.
   */
  sentLength?(text: string): number;
  /** Replace the text of an existing message. */
  edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void>;
  /** Post an overflow message after `after`; returns where it lives. `opts` as for `edit`. */
  post(after: ReplyTarget, text: string, opts?: EditOptions): Promise<ReplyTarget>;
  /** Edits to one message no sooner than this apart (ms); the worker's default when absent. */
  readonly minEditIntervalMs?: number;
  /**
   * Show a waiting message's place in line in its placeholder (absent: nothing shown). `ahead`: the
   * messages of its conversation before it (0: next; it may still wait for a free model slot).
   * Throws PlatformRateLimitedError when it should be sent later (the caller retries, coalesced).
   */
  queued?(target: ReplyTarget, ahead: number): Promise<void>;
  /** Generation started: a placeholder that showed a place in line now says the answer is coming ("Thinking…"). */
  started?(target: ReplyTarget): Promise<void>;
  /** A shared budget that every edit and post of this reply must take a token from (per workspace). */
  acquireBudget?(target: ReplyTarget): Promise<void>;
  /**
   * Show `image` in the reply message, replacing the image and text shown before (preview → next
   * preview → result). Returns where the reply lives when the platform had to move it (e.g. a
   * re-post carrying the file), else undefined; the worker then updates that message from then on.
   * Throws like `edit`: PlatformRateLimitedError is waited out and retried; a PlatformError with a
   * 4xx status (the upload refused, e.g. too large) makes the worker say so in text instead.
   * Absent: images get text-only progress and end with a note that they cannot be shown here.
   * Text-only updates of an image reply (progress before the first preview, retries, notes) come
   * through `edit` with `last: true`; an image already shown may stay under them.
   */
  showImage?(target: ReplyTarget, image: ReplyImage): Promise<ReplyTarget | undefined>;
}

/** One stored turn of a conversation. */
export interface ChatTurn {
  role: "user" | "assistant";
  text: string;
  /** Author display name for user turns in shared channels. */
  name?: string;
  /** The turn's size in model tokens, including the chat template around it. */
  tokens?: number;
  at: number;
}
