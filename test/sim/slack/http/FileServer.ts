/**
 * The HTTP side of files. `POST /upload/v1/<id>`: the upload URL files.getUploadURLExternal handed
 * out takes the bytes raw or multipart-encoded (the WebClient's filesUploadV2 sends multipart), once,
 * answering 200 `OK - <bytes>`. `GET /files-pri/<team>-<file>/[download/]<name>`: a file's url_private,
 * served only with `Authorization: Bearer <bot token of that workspace>` (with files:read when the
 * workspace has scopes); otherwise, as Slack does, a redirect to an HTML sign-in page — a client that
 * follows redirects gets 200 text/html instead of the file. Scripted faults per file (`FileFault`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FileRecord } from "../state/FileStore.ts";
import type { SlackState } from "../state/SlackState.ts";

function readRaw(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The file part of a multipart body (the first part with a filename, else the first part). */
export function multipartFile(body: Buffer, contentType: string): Buffer | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const mark = boundary?.[1] ?? boundary?.[2];
  if (mark === undefined) return undefined;
  const delimiter = Buffer.from(`--${mark}`);
  const parts: Array<{ headers: string; data: Buffer }> = [];
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const part = body.subarray(start + delimiter.length, next);
    const split = part.indexOf("\r\n\r\n");
    if (split >= 0) {
      const headers = part.subarray(0, split).toString("utf8");
      let data = part.subarray(split + 4);
      if (data.subarray(data.length - 2).toString() === "\r\n") data = data.subarray(0, data.length - 2);
      parts.push({ headers, data });
    }
    start = next;
  }
  return (parts.find((p) => /filename=/i.test(p.headers)) ?? parts[0])?.data;
}

export class FileServer {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly state: SlackState) {}

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Handles the request when it is a file route; false otherwise. */
  async handle(url: URL, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (url.pathname.startsWith("/upload/v1/") && req.method === "POST") {
      await this.upload(url.pathname.slice("/upload/v1/".length), req, res);
      return true;
    }
    const download = /^\/files-pri\/([^/-]+)-([^/]+)\/(?:download\/)?[^/]+$/.exec(url.pathname);
    if (download && (req.method === "GET" || req.method === "HEAD")) {
      this.download(download[1] ?? "", download[2] ?? "", req, res);
      return true;
    }
    if (url.pathname === "/signin") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body>Sign in to your workspace</body></html>");
      return true;
    }
    return false;
  }

  private async upload(uploadId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readRaw(req);
    const { files } = this.state;
    const fault = files.uploadFault;
    if (fault && fault.remaining > 0) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) files.uploadFault = undefined;
      res.writeHead(fault.status, { "content-type": "text/plain" });
      res.end("simulated upload failure");
      return;
    }
    const file = files.takeUpload(uploadId);
    if (!file) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("upload url not found");
      return;
    }
    const contentType = String(req.headers["content-type"] ?? "");
    const data = contentType.startsWith("multipart/form-data") ? (multipartFile(body, contentType) ?? body) : body;
    const team = this.state.team(file.teamId);
    if (data.length > team.maxUploadBytes) {
      res.writeHead(413, { "content-type": "text/plain" });
      res.end("file too large");
      return;
    }
    file.content = data;
    file.size = data.length;
    file.uploaded = true;
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(`OK - ${data.length}`);
  }

  private download(teamId: string, fileId: string, req: IncomingMessage, res: ServerResponse): void {
    const { files, workspaces } = this.state;
    const file = files.get(fileId);
    const header = req.headers.authorization;
    const token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    const tokenTeam = workspaces.teamForToken(token);
    const authorized = tokenTeam !== undefined && tokenTeam.id === teamId && (tokenTeam.scopes?.has("files:read") ?? true);
    const record = { fileId, teamId, authorized, status: 200, at: Date.now() };
    files.downloads.push(record);
    if (!authorized) {
      record.status = 302;
      res.writeHead(302, { location: `/signin?redir=${encodeURIComponent(req.url ?? "/")}`, "content-type": "text/html" });
      res.end();
      return;
    }
    if (!file || file.teamId !== teamId || file.deleted || !file.uploaded) {
      record.status = 404;
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("file not found");
      return;
    }
    this.serve(file, req, res, record);
  }

  private serve(file: FileRecord, req: IncomingMessage, res: ServerResponse, record: { status: number }): void {
    const fault = file.fault;
    let bytes = this.state.files.bytes(file);
    let contentType = file.mimetype;
    let withLength = true;
    if (fault?.kind === "status") {
      record.status = fault.status;
      res.writeHead(fault.status, { "content-type": "text/plain" });
      res.end("simulated download failure");
      return;
    }
    if (fault?.kind === "hang" && fault.afterBytes === undefined) return;
    if (fault?.kind === "huge") {
      bytes = Buffer.alloc(0);
      withLength = !fault.noLength;
    }
    if (fault?.kind === "contentType") contentType = fault.contentType;
    const total = fault?.kind === "huge" ? fault.bytes : bytes.length;
    const headers: Record<string, string> = { "content-type": contentType };
    if (withLength) headers["content-length"] = String(total);
    const chunkOf = (offset: number, size: number): Buffer =>
      fault?.kind === "huge" ? Buffer.alloc(Math.min(size, total - offset), "A") : bytes.subarray(offset, offset + size);
    const stopAt = fault?.kind === "hang" || fault?.kind === "reset" ? Math.min(fault.afterBytes ?? 0, total) : total;
    const perTick = fault?.kind === "slow" && fault.bytesPerSec !== undefined ? Math.max(1, Math.floor(fault.bytesPerSec / 10)) : 64 * 1024;
    const tickMs = fault?.kind === "slow" && fault.bytesPerSec !== undefined ? 100 : 0;
    let offset = 0;
    const pump = (): void => {
      if (res.destroyed) return;
      while (offset < stopAt) {
        const chunk = chunkOf(offset, Math.min(perTick, stopAt - offset));
        offset += chunk.length;
        const more = res.write(chunk);
        if (tickMs > 0) {
          this.later(pump, tickMs);
          return;
        }
        if (!more) {
          res.once("drain", pump);
          return;
        }
      }
      if (offset >= total) res.end();
      else if (fault?.kind === "reset") this.later(() => res.destroy(), 50); // after the bytes got out
      // hang: headers and some bytes sent, then nothing until the client gives up
    };
    const start = (): void => {
      if (res.destroyed) return;
      res.writeHead(200, headers);
      if (req.method === "HEAD") res.end();
      else pump();
    };
    const delay = fault?.kind === "slow" ? (fault.delayMs ?? 0) : 0;
    if (delay > 0) this.later(start, delay);
    else start();
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}
