/**
 * Files, the way Slack's external upload flow works: `files.getUploadURLExternal` (`filename`,
 * `length` → `upload_url`, `file_id`; length 0 → `missing_argument`, over the workspace's limit →
 * `file_upload_size_restricted`), then a POST of the bytes to upload_url (http/FileServer.ts), then
 * `files.completeUploadExternal` (`files` [{id, title}], `channel_id` or `channels`, `thread_ts`,
 * `initial_comment` or `blocks`) which shares them in one bot message (subtype `file_share`) — only
 * once per file, and only after the bytes arrived (`file_not_found` otherwise). Also `files.info`
 * and `files.delete` (a deleted file becomes a tombstone on its messages).
 */
import type { FileRecord } from "../state/FileStore.ts";
import { asArray, asString } from "../util.ts";
import { checkText } from "./limits.ts";
import { bot, type MethodDeps, type MethodSpec, postableChannel, SimApiError } from "./MethodSpec.ts";

/** Slack's limit on an image's alt text. */
export const SLACK_MAX_ALT_TEXT = 1000;

export function filesMethods({ state, echo }: MethodDeps): Record<string, MethodSpec> {
  return {
    "files.getUploadURLExternal": bot(({ team, params }) => {
      const filename = asString(params.filename);
      const length = Number(params.length ?? 0);
      if (!Number.isFinite(length) || length <= 0) throw new SimApiError("missing_argument");
      if (filename === undefined || filename === "") throw new SimApiError("invalid_arguments");
      if (length > team.maxUploadBytes) throw new SimApiError("file_upload_size_restricted");
      const altText = asString(params.alt_txt) ?? asString(params.alt_text);
      if (altText !== undefined && altText.length > SLACK_MAX_ALT_TEXT) throw new SimApiError("alt_txt_too_large");
      const { file, uploadUrl } = state.files.startUpload(team, team.botUserId, filename, Math.floor(length));
      if (altText !== undefined) file.altText = altText;
      return { upload_url: uploadUrl, file_id: file.id };
    }),
    "files.completeUploadExternal": bot(({ team, params, after }) => {
      const list = asArray(params.files);
      if (!list || list.length === 0) throw new SimApiError("invalid_arguments");
      const files: FileRecord[] = list.map((entry) => {
        const item = entry as Record<string, unknown>;
        const file = state.files.get(String(item?.id ?? ""));
        if (!file || file.teamId !== team.id || !file.uploaded || file.completed || file.deleted) throw new SimApiError("file_not_found");
        return file;
      });
      const channels = [asString(params.channel_id), ...(asString(params.channels)?.split(",") ?? [])]
        .map((c) => c?.trim())
        .filter((c): c is string => c !== undefined && c !== "");
      if (channels.length > 100) throw new SimApiError("channels_limit_exceeded");
      const threadTs = asString(params.thread_ts);
      if (threadTs !== undefined && threadTs !== "" && channels.length > 1) throw new SimApiError("invalid_arguments");
      for (const channel of channels) postableChannel(state, team, channel);
      const comment = asString(params.initial_comment);
      const blocks = comment === undefined ? asArray(params.blocks) : undefined;
      if (comment !== undefined || blocks !== undefined) checkText(comment, blocks, undefined);
      files.forEach((file, i) => {
        const title = asString((list[i] as Record<string, unknown>)?.title);
        if (title !== undefined && title !== "") file.title = title;
        file.completed = true;
      });
      for (const channel of channels) {
        const message = state.messages.storeBot(team, channel, {
          text: comment ?? "",
          blocks,
          threadTs: threadTs === "" ? undefined : threadTs,
          params,
        });
        message.subtype = "file_share";
        message.files = files;
        for (const file of files) {
          file.shares.push({ channel, ts: message.ts, ...(message.threadTs !== undefined ? { threadTs: message.threadTs } : {}) });
        }
        state.assistant.botReplied(team.id, channel, message.threadTs);
        if (state.settings.echoBotPosts) after.push(() => echo(team, state.messageEvent(team, message)));
      }
      return { files: files.map((f) => state.files.shape(f, team)) };
    }),
    "files.info": bot(({ team, params }) => {
      const file = state.files.get(asString(params.file) ?? "");
      if (!file || file.teamId !== team.id || file.deleted || !file.completed) throw new SimApiError("file_not_found");
      return { file: state.files.shape(file, team), comments: [], response_metadata: { next_cursor: "" } };
    }),
    "files.delete": bot(({ team, params }) => {
      const file = state.files.get(asString(params.file) ?? "");
      if (!file || file.teamId !== team.id || !file.completed) throw new SimApiError("file_not_found");
      if (file.deleted) throw new SimApiError("file_deleted");
      if (file.user !== team.botUserId) throw new SimApiError("cant_delete_file");
      file.deleted = true;
      return {};
    }),
  };
}
