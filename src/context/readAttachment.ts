/**
 * Reads an attached file for the prompt: decides from its declared name and type whether it is
 * worth downloading (fileKinds), downloads at most what the prompt could use (size cap, timeout),
 * checks that the content really is text (decodeText) and caps the text. Never throws: whatever
 * goes wrong — an image, a binary, a 404, a hang, a login page instead of the file — becomes a
 * `note` the model sees next to the file's name, so one bad file never fails a message.
 *
 * Core (fetch only): the Discord and Slack adapters call it with the file's URL (Slack: with the
 * bot token in an Authorization header; fetch drops it if a redirect leaves Slack's origin).
 */
import type { Config } from "../config.ts";
import { decodeText } from "./decodeText.ts";
import { bareMimeType, extensionOf, fileKind } from "./fileKinds.ts";
import type { ContextAttachment } from "./RequestContext.ts";
import { formatBytes } from "./renderUserTurn.ts";

/** A file as the platform declares it. */
export interface AttachmentSource {
  url: string;
  name: string;
  mimeType?: string;
  /** Declared size in bytes. */
  size?: number;
  /** Sent with the download (Slack: `Authorization: Bearer xoxb-…`). Never logged. */
  headers?: Record<string, string>;
}

export interface ReadAttachmentOptions {
  /** Most bytes downloaded (MAX_ATTACHMENT_BYTES). */
  maxBytes: number;
  /** Most characters of text kept (MAX_ATTACHMENT_CHARS). */
  maxChars: number;
  /** The whole download, headers to last byte (ATTACHMENT_TIMEOUT_MS). */
  timeoutMs: number;
  /** The engine takes images: an image gets a neutral note instead of "not supported". */
  imagesSupported?: boolean;
  /** For tests; default the global fetch. */
  fetch?: typeof fetch;
  /** Gives up the download (e.g. the adapter is shutting down). */
  signal?: AbortSignal;
}

/** Most files of one message that are read (Discord and Slack allow 10 per message). */
export const MAX_ATTACHMENTS = 10;

export function readAttachmentOptionsFrom(config: Config, imagesSupported = false): ReadAttachmentOptions {
  return {
    maxBytes: config.MAX_ATTACHMENT_BYTES,
    maxChars: config.MAX_ATTACHMENT_CHARS,
    timeoutMs: config.ATTACHMENT_TIMEOUT_MS,
    imagesSupported,
  };
}

/** Read every file of a message (at most MAX_ATTACHMENTS, in parallel); the rest get a note. */
export async function readAttachments(files: readonly AttachmentSource[], opts: ReadAttachmentOptions): Promise<ContextAttachment[]> {
  const read = await Promise.all(files.slice(0, MAX_ATTACHMENTS).map((f) => readAttachment(f, opts)));
  const skipped = files.slice(MAX_ATTACHMENTS).map((f) => ({
    ...declared(f),
    note: `not read: at most ${MAX_ATTACHMENTS} files of a message are read`,
  }));
  return [...read, ...skipped];
}

export async function readAttachment(file: AttachmentSource, opts: ReadAttachmentOptions): Promise<ContextAttachment> {
  const out = declared(file);
  const kind = fileKind(file.name, file.mimeType);
  if (kind === "image")
    return { ...out, note: opts.imagesSupported ? "an image (not read as text)" : "images are not supported by this model" };
  if (kind === "binary") return { ...out, note: `not read: ${describeType(file)} is not a text file` };

  // More bytes than the kept characters can come from are never needed (UTF-8: at most 4 per character).
  const limit = Math.min(opts.maxBytes, opts.maxChars * 4 + 4);
  const download = await fetchCapped(file, limit, opts);
  if ("failure" in download) return { ...out, note: `could not be downloaded (${download.failure})` };
  const { bytes, complete } = download;

  const decoded = decodeText(bytes, complete);
  if (decoded.binary) return { ...out, note: `not read: the content is binary, not text (${decoded.reason})` };
  let text = decoded.text;
  let cut = !complete;
  if (text.length > opts.maxChars) {
    let keep = opts.maxChars;
    if (/[\uD800-\uDBFF]/.test(text[keep - 1]!)) keep--;
    text = text.slice(0, keep);
    cut = true;
  }
  const result: ContextAttachment = { ...out, text };
  if (out.size === 0 && complete) result.size = bytes.length;
  if (cut) result.truncatedAt = Buffer.byteLength(text);
  if (decoded.note) result.note = decoded.note;
  return result;
}

function declared(file: AttachmentSource): ContextAttachment {
  return { name: file.name, mimeType: bareMimeType(file.mimeType) || "unknown", size: file.size ?? 0 };
}

function describeType(file: AttachmentSource): string {
  const mime = bareMimeType(file.mimeType);
  if (mime && mime !== "application/octet-stream") return mime;
  const ext = extensionOf(file.name);
  return ext ? `a .${ext} file` : "this file";
}

type Download = { bytes: Uint8Array; complete: boolean } | { failure: string };

/** GET the file, reading at most `limit` bytes, within the timeout. */
async function fetchCapped(file: AttachmentSource, limit: number, opts: ReadAttachmentOptions): Promise<Download> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs);
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const res = await (opts.fetch ?? fetch)(file.url, { headers: file.headers, redirect: "follow", signal: controller.signal });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return { failure: `HTTP ${res.status}` };
    }
    const served = bareMimeType(res.headers.get("content-type") ?? undefined);
    if (served === "text/html" && !/^x?html?$/.test(extensionOf(file.name)) && bareMimeType(file.mimeType) !== "text/html") {
      // Slack answers a file URL it will not serve (no token, no files:read) with its sign-in page.
      await res.body?.cancel().catch(() => {});
      return { failure: "the server sent a web page instead of the file; is the bot allowed to read files?" };
    }
    return await readCapped(res, limit);
  } catch (err) {
    if (timedOut) return { failure: `no complete answer within ${formatSeconds(opts.timeoutMs)}` };
    if (opts.signal?.aborted) return { failure: "cancelled" };
    return { failure: networkReason(err) };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

async function readCapped(res: Response, limit: number): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (!res.body) return { bytes: new Uint8Array(0), complete: true };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let complete = true;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = limit - total;
    if (value.length >= room && !(value.length === room && (await peekDone(reader)))) {
      chunks.push(value.subarray(0, room));
      total += room;
      complete = false;
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
    total += value.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, complete };
}

/** A chunk filled the limit exactly: the file is complete only if nothing follows. */
async function peekDone(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  const next = await reader.read();
  return next.done || next.value.length === 0;
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code === "ERR_TOO_MANY_REDIRECTS" || /redirect/i.test(cause?.message ?? "")) return "too many redirects";
  if (cause?.code) return `network error ${cause.code}`;
  return cause?.message ? `network error: ${cause.message}` : "network error";
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** A short human summary of what was read, for logs: `notes.md 1.2 KB (first 8 KB read)`. */
export function describeAttachment(a: ContextAttachment): string {
  const size = a.size > 0 ? formatBytes(a.size) : "size unknown";
  if (a.text === undefined) return `${a.name} ${size}: ${a.note ?? "not read"}`;
  return `${a.name} ${size}${a.truncatedAt === undefined ? "" : ` (first ${formatBytes(a.truncatedAt)} read)`}`;
}
