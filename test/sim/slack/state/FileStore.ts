/**
 * Files in the Slack simulator: what users attach to their messages and what the bot uploads through
 * the external upload flow (files.getUploadURLExternal → POST the bytes → files.completeUploadExternal),
 * the file objects the API and events show, and the scripted faults of their downloads.
 */
import type { FileFault, SimFileDownload, SimFileInput, SimFileView } from "../types.ts";
import { randomId } from "../util.ts";
import type { TeamState } from "./Workspaces.ts";

export interface FileShare {
  channel: string;
  ts: string;
  threadTs?: string;
}

export interface FileRecord {
  id: string;
  teamId: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  prettyType: string;
  /** bytes (the declared length until the bytes arrive) */
  size: number;
  user: string;
  created: number;
  /** the bytes; undefined = `size` bytes of filler, or (bot upload) not uploaded yet */
  content: Buffer | undefined;
  /** bot uploads: the bytes were POSTed to the upload URL */
  uploaded: boolean;
  /** bot uploads: files.completeUploadExternal was called */
  completed: boolean;
  deleted: boolean;
  shares: FileShare[];
  fault: FileFault | undefined;
  altText?: string;
}

interface TypeInfo {
  mimetype: string;
  filetype: string;
  pretty: string;
}

const TYPES: Record<string, TypeInfo> = {
  txt: { mimetype: "text/plain", filetype: "text", pretty: "Plain Text" },
  log: { mimetype: "text/plain", filetype: "text", pretty: "Plain Text" },
  md: { mimetype: "text/markdown", filetype: "markdown", pretty: "Markdown (raw)" },
  json: { mimetype: "application/json", filetype: "json", pretty: "JSON" },
  csv: { mimetype: "text/csv", filetype: "csv", pretty: "CSV" },
  js: { mimetype: "text/javascript", filetype: "javascript", pretty: "JavaScript" },
  ts: { mimetype: "text/plain", filetype: "typescript", pretty: "TypeScript" },
  py: { mimetype: "text/x-python", filetype: "python", pretty: "Python" },
  html: { mimetype: "text/html", filetype: "html", pretty: "HTML" },
  yaml: { mimetype: "text/plain", filetype: "yaml", pretty: "YAML" },
  yml: { mimetype: "text/plain", filetype: "yaml", pretty: "YAML" },
  png: { mimetype: "image/png", filetype: "png", pretty: "PNG" },
  jpg: { mimetype: "image/jpeg", filetype: "jpg", pretty: "JPEG" },
  jpeg: { mimetype: "image/jpeg", filetype: "jpg", pretty: "JPEG" },
  gif: { mimetype: "image/gif", filetype: "gif", pretty: "GIF" },
  pdf: { mimetype: "application/pdf", filetype: "pdf", pretty: "PDF" },
  zip: { mimetype: "application/zip", filetype: "zip", pretty: "Zip" },
};

/** What Slack would detect from a file name. */
export function typeFromName(name: string): TypeInfo {
  const ext = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() ?? "";
  return TYPES[ext] ?? { mimetype: "application/octet-stream", filetype: "binary", pretty: "Binary" };
}

export class FileStore {
  private readonly files = new Map<string, FileRecord>();
  /** upload id (in the upload URL) → file id */
  private readonly uploads = new Map<string, string>();
  /** every GET of a file URL, oldest first */
  readonly downloads: SimFileDownload[] = [];
  /** the next N upload POSTs answer this status */
  uploadFault: { status: number; remaining: number } | undefined;

  constructor(private readonly baseUrl: string) {}

  get(id: string): FileRecord | undefined {
    return this.files.get(id);
  }

  /** A file a user attached to a message. */
  addUserFile(team: TeamState, user: string, input: SimFileInput): FileRecord {
    const type = typeFromName(input.name);
    const content = typeof input.content === "string" ? Buffer.from(input.content, "utf8") : input.content;
    const file = this.create(team, user, input.name, content?.length ?? input.size ?? 0);
    file.title = input.title ?? input.name;
    file.mimetype = input.mimetype ?? type.mimetype;
    file.filetype = input.filetype ?? type.filetype;
    file.content = content;
    file.uploaded = true;
    file.completed = true;
    file.fault = input.fault;
    return file;
  }

  /** files.getUploadURLExternal: a file waiting for its bytes, and the URL to POST them to. */
  startUpload(team: TeamState, user: string, name: string, length: number): { file: FileRecord; uploadUrl: string } {
    const file = this.create(team, user, name, length);
    const uploadId = randomId("", 16).toLowerCase();
    this.uploads.set(uploadId, file.id);
    return { file, uploadUrl: `${this.baseUrl}/upload/v1/${uploadId}` };
  }

  /** The file an upload URL is for (once; a used URL is gone). */
  takeUpload(uploadId: string): FileRecord | undefined {
    const id = this.uploads.get(uploadId);
    if (id === undefined) return undefined;
    this.uploads.delete(uploadId);
    return this.files.get(id);
  }

  /** The file's bytes (filler when it has none). */
  bytes(file: FileRecord): Buffer {
    return file.content ?? Buffer.alloc(file.size, "A");
  }

  /** `https://…/files-pri/T-F/name`: the url_private, and its `download/` variant. */
  urlPrivate(file: FileRecord, download = false): string {
    const name = encodeURIComponent(file.name);
    return `${this.baseUrl}/files-pri/${file.teamId}-${file.id}/${download ? "download/" : ""}${name}`;
  }

  /** A file object as the Web API and events show it (a deleted file is a tombstone). */
  shape(file: FileRecord, team: TeamState): Record<string, unknown> {
    if (file.deleted) return { id: file.id, mode: "tombstone" };
    const publicShares: Record<string, unknown[]> = {};
    const privateShares: Record<string, unknown[]> = {};
    for (const share of file.shares) {
      const channel = team.channels.get(share.channel);
      const target = channel?.type === "channel" ? publicShares : privateShares;
      const list = target[share.channel] ?? [];
      list.push({
        ts: share.ts,
        ...(share.threadTs !== undefined ? { thread_ts: share.threadTs } : {}),
        channel_name: channel?.name ?? share.channel.toLowerCase(),
        team_id: team.id,
        share_user_id: file.user,
        reply_users: [],
        reply_users_count: 0,
        reply_count: 0,
      });
      target[share.channel] = list;
    }
    return {
      id: file.id,
      created: file.created,
      timestamp: file.created,
      name: file.name,
      title: file.title,
      mimetype: file.mimetype,
      filetype: file.filetype,
      pretty_type: file.prettyType,
      user: file.user,
      user_team: team.id,
      editable: false,
      size: file.size,
      mode: "hosted",
      is_external: false,
      external_type: "",
      is_public: Object.keys(publicShares).length > 0,
      public_url_shared: false,
      display_as_bot: false,
      username: "",
      url_private: this.urlPrivate(file),
      url_private_download: this.urlPrivate(file, true),
      permalink: `https://${team.domain}.slack.com/files/${file.user}/${file.id}/${encodeURIComponent(file.name)}`,
      ...(file.altText !== undefined ? { alt_txt: file.altText } : {}),
      shares: {
        ...(Object.keys(publicShares).length > 0 ? { public: publicShares } : {}),
        ...(Object.keys(privateShares).length > 0 ? { private: privateShares } : {}),
      },
      channels: file.shares.filter((s) => team.channels.get(s.channel)?.type === "channel").map((s) => s.channel),
      groups: file.shares.filter((s) => team.channels.get(s.channel)?.type === "group").map((s) => s.channel),
      ims: file.shares.filter((s) => team.channels.get(s.channel)?.type === "im").map((s) => s.channel),
      has_rich_preview: false,
      file_access: "visible",
    };
  }

  /** A file as a test reads it back. */
  view(file: FileRecord): SimFileView {
    return {
      id: file.id,
      name: file.name,
      title: file.title,
      mimetype: file.mimetype,
      filetype: file.filetype,
      size: file.size,
      user: file.user,
      url_private: this.urlPrivate(file),
      deleted: file.deleted,
    };
  }

  private create(team: TeamState, user: string, name: string, size: number): FileRecord {
    const type = typeFromName(name);
    const file: FileRecord = {
      id: randomId("F", 5),
      teamId: team.id,
      name,
      title: name,
      mimetype: type.mimetype,
      filetype: type.filetype,
      prettyType: type.pretty,
      size,
      user,
      created: Math.floor(Date.now() / 1000),
      content: undefined,
      uploaded: false,
      completed: false,
      deleted: false,
      shares: [],
      fault: undefined,
    };
    this.files.set(file.id, file);
    return file;
  }
}
