/**
 * Attachment bytes behind the simulator's CDN: files users post (given by the test, or generated
 * lazily for huge ones) and files the bot uploads (kept so tests can read them back), each with an
 * optional download fault. URLs have Discord's shape,
 * `/cdn/attachments/{channel_id}/{attachment_id}/{filename}?ex=…&is=…&hm=…` (signed, expiring
 * links; the simulator does not check the signature).
 */
import { createHash } from "node:crypto";

/** What a download of the file gets instead of the bytes at full speed. */
export type CdnFault =
  /** the body is sent at this rate */
  | { kind: "slow"; bytesPerSec: number }
  /** no answer at all (until the client gives up or the sim stops) */
  | { kind: "hang" }
  /** headers and the first `afterBytes` bytes (default 0), then nothing more */
  | { kind: "stall"; afterBytes?: number }
  /** this status instead (404: "This content is no longer available.", as the CDN says for expired or removed files) */
  | { kind: "status"; status: number }
  /** the connection is reset before any answer */
  | { kind: "reset" };

export interface StoredFile {
  id: string;
  channelId: string;
  messageId: string;
  filename: string;
  contentType: string;
  size: number;
  /** the bytes; absent when generated */
  data: Buffer | null;
  /** huge files: `size` bytes of `fill` repeated, made while sending */
  fill: Buffer | null;
  fault: CdnFault | null;
  /** true for files the bot uploaded */
  fromBot: boolean;
  description: string | null;
  time: number;
}

/** One request to the CDN. */
export interface CdnRequestRecord {
  method: string;
  path: string;
  attachmentId: string | null;
  status: number;
  fault: CdnFault["kind"] | null;
  time: number;
}

const TYPES: Record<string, string> = {
  txt: "text/plain; charset=utf-8",
  log: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  json: "application/json; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  ts: "video/mp2t",
  py: "text/x-python; charset=utf-8",
  html: "text/html; charset=utf-8",
  xml: "text/xml; charset=utf-8",
  yaml: "application/x-yaml",
  yml: "application/x-yaml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  zip: "application/zip",
};

/** The content type Discord reports for a file name (by extension, as it does), else undefined. */
export function contentTypeFor(filename: string): string | undefined {
  const ext = filename.includes(".") ? filename.split(".").pop()!.toLowerCase() : "";
  return TYPES[ext];
}

/** Width and height of a PNG (from its IHDR chunk), for the attachment object. */
export function pngSize(data: Buffer | null): { width: number; height: number } | null {
  if (!data || data.length < 24 || data.readUInt32BE(0) !== 0x89504e47 || data.toString("latin1", 12, 16) !== "IHDR") return null;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

export class FileStore {
  private readonly byId = new Map<string, StoredFile>();
  readonly cdnRequests: CdnRequestRecord[] = [];

  put(file: StoredFile): StoredFile {
    this.byId.set(file.id, file);
    return file;
  }

  get(id: string): StoredFile | undefined {
    return this.byId.get(id);
  }

  /** The file an attachment id or CDN URL names. */
  find(idOrUrl: string): StoredFile | undefined {
    const m = /\/attachments\/\d+\/(\d+)\//.exec(idOrUrl);
    return this.byId.get(m ? m[1]! : idOrUrl);
  }

  uploadsByBot(): StoredFile[] {
    return [...this.byId.values()].filter((f) => f.fromBot);
  }

  /** A signed-looking CDN URL for the file. */
  static url(cdnBase: string, channelId: string, id: string, filename: string): string {
    const now = Math.floor(Date.now() / 1000);
    const hm = createHash("sha256").update(`${id}:${now}`).digest("hex");
    return `${cdnBase}/attachments/${channelId}/${id}/${encodeURIComponent(filename)}?ex=${(now + 86400).toString(16)}&is=${now.toString(16)}&hm=${hm}&`;
  }
}
