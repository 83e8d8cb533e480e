/**
 * What a message points at, beyond its own text: the message it replies to (Discord), the thread
 * it was posted in (Slack), the files attached to it. Adapters gather it (readAttachment reads the
 * files) and attach it to the ChatRequest as `context`; the worker renders it before the question
 * in the user turn (renderUserTurn). Plain JSON: it travels in the inbox with the request.
 */

/** The message a mention replies to. */
export interface ReplyToContext {
  author: string;
  text: string;
  /** The bot's own message (an earlier answer, perhaps no longer in memory). */
  isBot: boolean;
}

/** One earlier message of the thread, oldest first in `RequestContext.thread`. */
export interface ThreadMessage {
  author: string;
  text: string;
  /** The bot's own message. */
  isBot?: boolean;
}

/** A file attached to the message, read (or not) by readAttachment. */
export interface ContextAttachment {
  name: string;
  mimeType: string;
  /** Declared size in bytes (0 when the platform did not say). */
  size: number;
  /** The text read, when the file is a text file that could be read. */
  text?: string;
  /** Set when only the first part was read: how many bytes of the file `text` covers. */
  truncatedAt?: number;
  /** Why there is no text or what to know about it (binary, image, download failed, invalid UTF-8…). */
  note?: string;
}

export interface RequestContext {
  replyTo?: ReplyToContext;
  /** Earlier messages of the thread, oldest first (the adapter fetches as many as it likes; the oldest are left out first). */
  thread?: ThreadMessage[];
  attachments?: ContextAttachment[];
}

/** True when there is something to show. */
export function hasContext(context: RequestContext | undefined): context is RequestContext {
  return (
    context !== undefined && (context.replyTo !== undefined || (context.thread?.length ?? 0) > 0 || (context.attachments?.length ?? 0) > 0)
  );
}
