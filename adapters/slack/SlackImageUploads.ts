/**
 * The Slack sink's pictures (`SlackSink.showImage`, for /imagine): Slack cannot swap the picture
 * of a message the way Discord edits an attachment, so every picture is a file shared into the
 * reply's thread through the external upload flow — `files.getUploadURLExternal`, a POST of the
 * bytes to the URL it gives, `files.completeUploadExternal` with `channel_id` + `thread_ts` — and
 * the preview before it is taken away (its share message deleted with `chat.delete`, the file with
 * `files.delete`), so the thread shows one picture at a time: the newest preview (titled with its
 * step), then the result. The placeholder above keeps the Stop button while the engine works; the
 * final update puts the caption in it (prompt, size, steps, seed, or where it stopped) and removes
 * the button. A stopped picture is the last preview, uploaded again as the final one, marked stopped.
 *
 * - Previews: at most one every SLACK_IMAGE_PREVIEW_INTERVAL_MS per reply; a preview offered
 *   sooner is skipped (the next one is newer anyway). The final picture always goes up.
 * - Budget: the share and each delete of a message take a slot of the workspace's edit budget
 *   (SlackEditBudget), like any post or edit.
 * - A refused upload (`file_upload_size_restricted`, HTTP 413 from the upload URL) is a
 *   PlatformError with a 4xx status: the worker then says so in text instead.
 * - Which preview is showing is kept in memory: after a worker crash the new worker cannot take
 *   the old worker's last preview away, and it stays in the thread above the result.
 */
import { PlatformError } from "../../src/errors.ts";
import type { Logger } from "../../src/logger.ts";
import type { ReplyImage, ReplyTarget } from "../../src/types.ts";
import { slackError } from "./slackApiErrors.ts";
import { slackTextWithNote } from "./slackMessages.ts";
import type { WebClient } from "./slackWorkspaces.ts";

/** Slack's longest file title we send (titles show above the picture). */
const TITLE_CHARS = 200;
/** Replies whose preview state is kept at most (the oldest are forgotten first). */
const MAX_TRACKED = 1000;

/** Upload errors that retrying cannot fix, as the HTTP status the worker reads as "refused". */
const REFUSED: Record<string, number> = {
  file_upload_size_restricted: 413,
  alt_txt_too_large: 400,
  invalid_arguments: 400,
  file_uploads_disabled: 403,
  file_uploads_except_images_disabled: 403,
};

export interface SlackImageUploadsDeps {
  logger: Logger;
  client(workspaceId: string | undefined): Promise<WebClient>;
  /** Takes a slot of the workspace's edit budget. */
  editSlot(target: ReplyTarget): Promise<void>;
  /** A Web API failure as the worker understands it (429s also push the workspace's budget back). */
  failed(err: unknown, target: ReplyTarget, what: string): Promise<Error>;
  /** SLACK_IMAGE_PREVIEW_INTERVAL_MS. */
  previewIntervalMs: number;
  /** For tests; default the global fetch. */
  fetch?: typeof fetch;
}

interface PreviewState {
  lastPreviewAt: number;
  /** The preview showing in the thread now. */
  fileId?: string;
  /** The final picture, once shared. */
  finalFileId?: string;
}

export class SlackImageUploads {
  private readonly previews = new Map<string, PreviewState>();

  constructor(private readonly deps: SlackImageUploadsDeps) {}

  async show(target: ReplyTarget, image: ReplyImage): Promise<undefined> {
    const key = `${target.workspaceId ?? "-"}:${target.channelId}:${target.messageId}`;
    const state = this.previews.get(key) ?? { lastPreviewAt: 0 };
    const now = Date.now();
    if (!image.final && now - state.lastPreviewAt < this.deps.previewIntervalMs) return undefined;
    const client = await this.deps.client(target.workspaceId);
    const threadTs = target.threadId ?? target.messageId;
    const previous = state.fileId;
    if (!image.final) {
      const fileId = await this.upload(client, target, threadTs, image);
      this.track(key, { lastPreviewAt: now, fileId });
      if (previous && previous !== fileId) await this.remove(client, target, threadTs, previous);
      return undefined;
    }
    // The final picture is shared once: a retry (the caption's edit hit a 429) only finishes the rest.
    if (state.finalFileId === undefined) {
      state.finalFileId = await this.upload(client, target, threadTs, image);
      this.track(key, state);
    }
    await this.caption(client, target, image);
    this.previews.delete(key);
    if (previous) await this.remove(client, target, threadTs, previous);
    return undefined;
  }

  /** getUploadURLExternal → POST → completeUploadExternal, shared into the thread; the file id. */
  private async upload(client: WebClient, target: ReplyTarget, threadTs: string, image: ReplyImage): Promise<string> {
    let uploadUrl: string | undefined;
    let fileId: string | undefined;
    try {
      const res = await client.files.getUploadURLExternal({
        filename: image.filename,
        length: image.bytes.length,
        ...(image.alt ? { alt_text: image.alt } : {}),
      });
      uploadUrl = res.upload_url;
      fileId = res.file_id;
    } catch (err) {
      throw await this.refusedOr(err, target, "files.getUploadURLExternal");
    }
    if (!uploadUrl || !fileId) throw new PlatformError("files.getUploadURLExternal: Slack gave no upload URL");
    let res: Response;
    try {
      res = await (this.deps.fetch ?? fetch)(uploadUrl, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: new Uint8Array(image.bytes),
      });
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      throw new PlatformError(`image upload: could not reach Slack (${String(err)})`);
    }
    if (!res.ok) throw new PlatformError(`image upload: Slack answered HTTP ${res.status}`, res.status);
    const title = clip((image.final ? image.caption.split("\n")[0] : image.caption) ?? image.filename, TITLE_CHARS);
    await this.deps.editSlot(target);
    try {
      await client.files.completeUploadExternal({
        files: [{ id: fileId, title }],
        channel_id: target.channelId,
        thread_ts: threadTs,
        ...(image.final ? { initial_comment: slackTextWithNote(image.caption, undefined) } : {}),
      });
    } catch (err) {
      throw await this.refusedOr(err, target, "files.completeUploadExternal");
    }
    return fileId;
  }

  /** The final caption in the placeholder, without the Stop button. */
  private async caption(client: WebClient, target: ReplyTarget, image: ReplyImage): Promise<void> {
    const text = slackTextWithNote(image.caption, undefined);
    await this.deps.editSlot(target);
    try {
      await client.chat.update({ channel: target.channelId, ts: target.messageId, text, blocks: [] });
    } catch (err) {
      if (slackError(err) === "message_not_found") return;
      throw await this.deps.failed(err, target, "chat.update");
    }
  }

  /** Takes the previous preview away: its share message, then the file (best effort). */
  private async remove(client: WebClient, target: ReplyTarget, threadTs: string, fileId: string): Promise<void> {
    try {
      const info = await client.files.info({ file: fileId });
      const shares = (info.file?.shares ?? {}) as Record<string, Record<string, Array<{ ts?: string; thread_ts?: string }>>>;
      const inChannel = [...(shares.public?.[target.channelId] ?? []), ...(shares.private?.[target.channelId] ?? [])];
      for (const share of inChannel) {
        if (!share.ts || (share.thread_ts !== undefined && share.thread_ts !== threadTs)) continue;
        await this.deps.editSlot(target);
        await client.chat.delete({ channel: target.channelId, ts: share.ts }).catch((err: unknown) => {
          if (slackError(err) !== "message_not_found") throw err;
        });
      }
      await client.files.delete({ file: fileId });
    } catch (err) {
      this.deps.logger.warn({ err: slackError(err) ?? String(err), file: fileId }, "could not take the previous preview away");
    }
  }

  private async refusedOr(err: unknown, target: ReplyTarget, what: string): Promise<Error> {
    const code = slackError(err);
    const status = code === undefined ? undefined : REFUSED[code];
    if (status !== undefined) return new PlatformError(`${what}: Slack refused the upload (${code})`, status);
    return this.deps.failed(err, target, what);
  }

  private track(key: string, state: PreviewState): void {
    this.previews.delete(key);
    if (this.previews.size >= MAX_TRACKED) {
      const oldest = this.previews.keys().next().value;
      if (oldest !== undefined) this.previews.delete(oldest);
    }
    this.previews.set(key, state);
  }
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
