/**
 * Files shared with a question (a `file_share` message, or a mention with files): each is read
 * into the question's context by readAttachment — text files (code, logs, Markdown, JSON, CSV…)
 * as text up to MAX_ATTACHMENT_BYTES / MAX_ATTACHMENT_CHARS within ATTACHMENT_TIMEOUT_MS, images
 * and other binaries as a note. Downloads go to `url_private_download` (or `url_private`) with the
 * workspace's bot token (`files:read`); a file the event does not describe fully (Slack Connect's
 * `file_access: "check_file_info"`) is looked up with `files.info` first. Whatever fails is a
 * note next to the file's name, never a failed message.
 */
import type { ContextAttachment } from "../../src/context/RequestContext.ts";
import { type AttachmentSource, type ReadAttachmentOptions, readAttachments } from "../../src/context/readAttachment.ts";
import type { Logger } from "../../src/logger.ts";
import type { WebClient } from "./slackWorkspaces.ts";

/** A file as a message event carries it (the fields used here). */
export interface SlackFileRef {
  id?: string;
  name?: string;
  title?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
  /** "check_file_info": the event carries only the id (Slack Connect); "access_denied". */
  file_access?: string;
  /** "tombstone" (deleted), "hidden_by_limit" (over the free plan's storage), "external", "snippet"… */
  mode?: string;
}

/** The files of a message event (an empty list when it has none). */
export function slackFilesOf(event: Record<string, unknown>): SlackFileRef[] {
  const files = event.files;
  return Array.isArray(files) ? (files.filter((f) => typeof f === "object" && f !== null) as SlackFileRef[]) : [];
}

/** Reads the files of a message; `token` is the bot token of the message's workspace. */
export async function readSlackFiles(
  client: WebClient,
  token: string | undefined,
  files: readonly SlackFileRef[],
  opts: ReadAttachmentOptions,
  log: Logger,
): Promise<ContextAttachment[]> {
  const described = await Promise.all(files.map((f) => describe(client, f, log)));
  const sources: AttachmentSource[] = [];
  const notes = new Map<number, ContextAttachment>();
  described.forEach((d, i) => {
    if (!("url" in d)) notes.set(i, d);
    else sources.push(token ? { ...d, headers: { Authorization: `Bearer ${token}` } } : d);
  });
  const read = await readAttachments(sources, opts);
  // Back in the order the files were shared.
  const out: ContextAttachment[] = [];
  let next = 0;
  for (let i = 0; i < described.length; i++) out.push(notes.get(i) ?? read[next++]!);
  return out;
}

/** A downloadable source, or the note that says why the file cannot be read. */
async function describe(client: WebClient, f: SlackFileRef, log: Logger): Promise<AttachmentSource | ContextAttachment> {
  let file = f;
  if (!file.url_private && !file.url_private_download && file.id && file.mode !== "tombstone") {
    try {
      const res = await client.files.info({ file: file.id });
      file = { ...f, ...(res.file as SlackFileRef | undefined) };
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error ?? String(err);
      log.warn({ err: code, file: f.id }, "files.info failed");
      return noted(f, `could not be read (Slack's files.info said ${code})`);
    }
  }
  if (file.mode === "tombstone") return noted(file, "the file was deleted");
  if (file.mode === "hidden_by_limit") return noted(file, "Slack hides this file (over the workspace's storage limit)");
  if (file.file_access === "access_denied") return noted(file, "the bot is not allowed to read this file");
  const url = file.url_private_download ?? file.url_private;
  if (!url) return noted(file, "Slack gave no download address for it");
  const source: AttachmentSource = { url, name: nameOf(file) };
  if (file.mimetype) source.mimeType = file.mimetype;
  if (typeof file.size === "number") source.size = file.size;
  return source;
}

function nameOf(f: SlackFileRef): string {
  return f.name || f.title || f.id || "file";
}

function noted(f: SlackFileRef, note: string): ContextAttachment {
  return { name: nameOf(f), mimeType: f.mimetype ?? "unknown", size: f.size ?? 0, note };
}
