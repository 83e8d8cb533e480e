/**
 * What a Discord message points at, gathered for the model (src/context RequestContext):
 *
 * - the message it replies to (`message_reference`), fetched through the REST API — its author and
 *   text, the bot's own earlier answers included (marked as such, notes under them left out). A
 *   replied-to message that was deleted, is not visible to the bot, or whose text Discord does not
 *   show (no Message Content access) is left out, and the placeholder says so;
 * - the attached files, read as text within the limits (readAttachment: MAX_ATTACHMENT_BYTES,
 *   MAX_ATTACHMENT_CHARS, ATTACHMENT_TIMEOUT_MS). The placeholder says at once which files will
 *   not be read (images, binaries) or only in part (larger than the cap), from what Discord
 *   declares; what the download finds (binary content, a failure) reaches the model as a note.
 */
import { type APIMessage, DiscordAPIError } from "discord.js";
import type { Config } from "../../src/config.ts";
import { fileKind } from "../../src/context/fileKinds.ts";
import type { ContextAttachment, ReplyToContext } from "../../src/context/RequestContext.ts";
import { type AttachmentSource, MAX_ATTACHMENTS, readAttachmentOptionsFrom, readAttachments } from "../../src/context/readAttachment.ts";
import { formatBytes } from "../../src/context/renderUserTurn.ts";
import type { Logger } from "../../src/logger.ts";

/** Which message a message replies to. */
export interface DiscordReference {
  channelId: string;
  messageId: string;
}

/** The replied-to message for the model, or the note the placeholder shows instead. */
export type FetchedReply = { replyTo: ReplyToContext } | { note: string };

export const CONTEXT_TEXT = {
  replyGone: "the message you replied to is deleted or not visible to me, so I answer without it",
  replyBlank: "I can't see the text of the message you replied to (Discord hides it from me)",
  image: (name: string) => `${name}: images are not read`,
  binary: (name: string) => `${name} is not a text file, so I can't read it`,
  partly: (name: string, max: number) => `${name} is large: only its first ${formatBytes(max)} are read`,
  tooMany: (n: number) => `${n} more ${n === 1 ? "file is" : "files are"} not read (at most ${MAX_ATTACHMENTS} per message)`,
} as const;

/** Subtext lines (`-# …`) under the bot's answers are notes for people, not part of the answer. */
const NOTE_LINE = /^-# .*$/gm;

/** Fetch the replied-to message; a note when it cannot be shown. Never throws. */
export async function fetchReplyTo(
  fetchMessage: (channelId: string, messageId: string) => Promise<APIMessage>,
  ref: DiscordReference,
  botId: string,
  log: Logger,
): Promise<FetchedReply> {
  let message: APIMessage;
  try {
    message = await fetchMessage(ref.channelId, ref.messageId);
  } catch (err) {
    if (!(err instanceof DiscordAPIError)) log.warn({ err, ...ref }, "could not fetch the replied-to message");
    return { note: CONTEXT_TEXT.replyGone };
  }
  const isBot = message.author.id === botId;
  let text = message.content ?? "";
  if (isBot) text = text.replace(NOTE_LINE, "");
  text = text.replace(/<@!?(\d+)>/g, (whole, id: string) => {
    const user = message.mentions?.find((u) => u.id === id);
    return user ? `@${user.global_name ?? user.username}` : whole;
  });
  text = text.trim();
  const files = (message.attachments ?? []).map((a) => a.filename);
  if (text.length === 0 && files.length === 0) return { note: CONTEXT_TEXT.replyBlank };
  if (files.length > 0) text = `${text}${text ? "\n" : ""}(attached: ${files.join(", ")})`;
  const author = message.author.global_name ?? message.author.username;
  return { replyTo: { author, text, isBot } };
}

/** What the placeholder tells the sender about the files before they are read (empty: every file will be read whole). */
export function attachmentNotes(files: readonly AttachmentSource[], config: Pick<Config, "MAX_ATTACHMENT_BYTES">): string[] {
  const notes: string[] = [];
  for (const f of files.slice(0, MAX_ATTACHMENTS)) {
    const kind = fileKind(f.name, f.mimeType);
    if (kind === "image") notes.push(CONTEXT_TEXT.image(f.name));
    else if (kind === "binary") notes.push(CONTEXT_TEXT.binary(f.name));
    else if ((f.size ?? 0) > config.MAX_ATTACHMENT_BYTES) notes.push(CONTEXT_TEXT.partly(f.name, config.MAX_ATTACHMENT_BYTES));
  }
  if (files.length > MAX_ATTACHMENTS) notes.push(CONTEXT_TEXT.tooMany(files.length - MAX_ATTACHMENTS));
  return notes;
}

/** Read the files (never throws: each failure is a note next to the file's name). */
export function readDiscordAttachments(files: readonly AttachmentSource[], config: Config): Promise<ContextAttachment[]> {
  return readAttachments(files, readAttachmentOptionsFrom(config));
}
