/**
 * The simulator's CDN: `GET|HEAD /cdn/attachments/{channel}/{attachment}/{filename}` (and the same
 * under `/media/`, the `proxy_url`) serves the bytes
 * of a stored attachment with its Content-Type and Content-Length, applying the file's fault (slow,
 * hang, stall, status, reset). Unknown files answer 404 as the CDN does. Every request is recorded.
 */
import type http from "node:http";
import type { FileStore, StoredFile } from "../state/FileStore.ts";

const CHUNK = 64 * 1024;

export function cdnHandler(files: FileStore): (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void {
  return (req, res, url) => {
    const method = (req.method ?? "GET").toUpperCase();
    const m = /^\/(?:cdn|media)\/attachments\/(\d+)\/(\d+)\/([^/]+)$/.exec(url.pathname);
    const file = m ? files.get(m[2]!) : undefined;
    const ok = file && m && file.channelId === m[1] && encodeURIComponent(file.filename) === encodeURIComponent(decodeURIComponent(m[3]!));
    const record = (status: number) =>
      files.cdnRequests.push({
        method,
        path: url.pathname,
        attachmentId: m?.[2] ?? null,
        status,
        fault: file?.fault?.kind ?? null,
        time: Date.now(),
      });
    if (!ok || !file) {
      record(404);
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("404: Not Found");
      return;
    }
    const fault = file.fault;
    if (fault?.kind === "reset") {
      record(0);
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === "hang") {
      record(0);
      return;
    }
    if (fault?.kind === "status") {
      record(fault.status);
      res.writeHead(fault.status, { "Content-Type": "text/plain" });
      res.end(fault.status === 404 ? "This content is no longer available." : `${fault.status}`);
      return;
    }
    record(200);
    res.writeHead(200, {
      "Content-Type": file.contentType,
      "Content-Length": String(file.size),
      "Cache-Control": "public, max-age=31536000",
    });
    if (method === "HEAD") {
      res.end();
      return;
    }
    void send(res, file);
  };
}

/** Writes the body in chunks, honouring backpressure and the file's slow/stall fault. */
async function send(res: http.ServerResponse, file: StoredFile): Promise<void> {
  const fault = file.fault;
  const limit = fault?.kind === "stall" ? Math.min(fault.afterBytes ?? 0, file.size) : file.size;
  const chunkSize = fault?.kind === "slow" ? Math.max(1, Math.floor(fault.bytesPerSec / 10)) : CHUNK;
  let sent = 0;
  while (sent < limit) {
    if (res.destroyed) return;
    const n = Math.min(chunkSize, limit - sent);
    const chunk = file.data ? file.data.subarray(sent, sent + n) : fillChunk(file.fill!, sent, n);
    sent += n;
    const more = res.write(chunk);
    if (fault?.kind === "slow") await new Promise((r) => setTimeout(r, 100));
    else if (!more)
      await new Promise<void>((r) => {
        res.once("drain", () => r());
        res.once("close", () => r());
      });
  }
  if (fault?.kind === "stall") return; // never ends; the socket closes when the client gives up
  res.end();
}

function fillChunk(fill: Buffer, offset: number, n: number): Buffer {
  const start = offset % fill.length;
  return Buffer.alloc(n, Buffer.concat([fill.subarray(start), fill.subarray(0, start)]));
}
