/** Core types shared by adapters, workers and sinks: a request, where its reply lives, and the sink that shows it. */

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
