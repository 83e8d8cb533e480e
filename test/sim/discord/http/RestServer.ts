/**
 * The HTTP side of the Discord simulator: one loopback server for REST, the CDN and the gateway
 * upgrade. Each REST request is parsed (JSON or multipart, file bytes kept), recorded,
 * authenticated, checked against scripted faults, then against rate limits, then upload sizes,
 * then routed; a 2xx answer may then be replaced by an after-commit fault. Every answer carries
 * X-RateLimit-*. Paths are matched and recorded without `/api` and `/vN`; `/cdn/...` and `/media/...`
 * (attachment `url` and `proxy_url`) go to the CDN handler (not recorded in `requests`).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { Errors } from "../discordErrors.ts";
import type { AfterCommitRecord, CommitFault, CommitFaultAnswer, Json, RequestRecord } from "../types.ts";
import { isObject } from "../util.ts";
import { ScriptedFaults, scriptedReply } from "./faults.ts";
import { RateLimiter } from "./RateLimiter.ts";
import { errorReply, type ParsedRequest, type Reply, Router, type UploadedFile } from "./Router.ts";

type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Serves `/cdn/...` (attachment downloads); answers on `res` itself. */
export type CdnHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

/** Which messages the routes wrote: a mark before the route runs, the ids written since after it. */
export interface WriteTracker {
  mark(): number;
  since(mark: number): string[];
}

export class RestServer {
  /** every REST request, in arrival order */
  readonly requests: RequestRecord[] = [];
  /** REST requests no route answered (404) — what the client asked that the simulator lacks */
  readonly unhandled: Array<{ method: string; path: string }> = [];
  readonly router = new Router();
  readonly limiter = new RateLimiter();
  readonly faults = new ScriptedFaults();
  /** writes saved and then answered with a fault (failAfterCommit) */
  readonly afterCommitFaults: AfterCommitRecord[] = [];
  /** checks a request's uploaded files (size limits); returns the reply refusing them, or null */
  uploadCheck: ((files: UploadedFile[]) => Reply | null) | undefined;
  cdn: CdnHandler | undefined;
  writes: WriteTracker | undefined;
  private server: http.Server | undefined;

  /** `token`: when set, REST must carry `Bot <token>`; otherwise any `Bot …` is accepted. */
  constructor(private readonly token: string | undefined) {}

  /** Listens on an ephemeral loopback port; WebSocket upgrades go to `onUpgrade`. Returns the port. */
  async listen(onUpgrade: UpgradeHandler): Promise<number> {
    const server = http.createServer((req, res) => void this.onRequest(req, res));
    this.server = server;
    server.on("upgrade", onUpgrade);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if ((url.pathname.startsWith("/cdn/") || url.pathname.startsWith("/media/")) && this.cdn) {
      req.resume();
      this.cdn(req, res, url);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    let path = url.pathname;
    if (path.startsWith("/api/")) path = path.slice(4);
    path = path.replace(/^\/v\d+(?=\/)/, "");
    if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    const method = (req.method ?? "GET").toUpperCase();
    const time = Date.now();
    let parsed: ParsedRequest;
    try {
      parsed = await parseRequest(method, path, url.searchParams, req.headers, raw);
    } catch {
      this.finish(
        res,
        { method, path, query: url.search, status: 400, time, body: raw.toString("utf8"), auth: null, scripted: false },
        { status: 400, body: { message: "400: Bad Request", code: 0 } },
      );
      return;
    }
    const record: RequestRecord = {
      method,
      path,
      query: url.search,
      status: 0,
      time,
      body: parsed.body,
      auth: parsed.auth,
      scripted: false,
    };
    if (parsed.files.length > 0) {
      const files = parsed.files.map(({ data: _data, ...meta }) => meta);
      record.body = { ...(isObject(parsed.body) ? parsed.body : { payload: parsed.body }), files };
    }

    const needsAuth = !path.startsWith("/interactions/") && !path.startsWith("/webhooks/") && path !== "/gateway";
    if (needsAuth && !this.authOk(parsed.auth)) {
      this.finish(res, record, errorReply(Errors.unauthorized()));
      return;
    }

    const fault = this.faults.take(method, path);
    if (fault) {
      record.scripted = true;
      this.finish(res, record, scriptedReply(this.limiter, method, path, fault));
      return;
    }

    const take = this.limiter.take(method, path);
    if (take.limited) {
      const global = take.scope === "global";
      this.finish(res, record, {
        status: 429,
        body: { message: "You are being rate limited.", retry_after: Number(take.retryAfterSec.toFixed(3)), global },
        headers: {
          ...take.headers,
          "Retry-After": String(take.retryAfterSec),
          "X-RateLimit-Scope": global ? "global" : "user",
          ...(global ? { "X-RateLimit-Global": "true" } : {}),
        },
      });
      return;
    }

    const refused = parsed.files.length > 0 ? (this.uploadCheck?.(parsed.files) ?? null) : null;
    if (refused) {
      refused.headers = { ...take.headers, ...refused.headers };
      this.finish(res, record, refused);
      return;
    }

    let reply: Reply;
    const mark = this.writes?.mark() ?? 0;
    const route = this.router.match(method, path);
    if (!route) {
      this.unhandled.push({ method, path });
      reply = errorReply(this.router.knowsPath(path) ? Errors.methodNotAllowed() : Errors.notFound());
    } else {
      try {
        reply = await route.handler(parsed, route.params);
      } catch (e) {
        reply = { status: 500, body: { message: `500: Internal Server Error (simulator: ${(e as Error).message})`, code: 0 } };
      }
    }
    reply.headers = { ...take.headers, ...reply.headers };
    const committed = reply.status >= 200 && reply.status < 300 ? this.faults.takeAfterCommit(method, path) : undefined;
    if (committed) {
      this.answerAfterCommit(req, res, record, reply, committed, this.writes?.since(mark) ?? []);
      return;
    }
    this.finish(res, record, reply);
  }

  /** The route saved its write; the client gets `fault` instead of `reply`. */
  private answerAfterCommit(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: RequestRecord,
    reply: Reply,
    fault: CommitFault,
    messageIds: string[],
  ): void {
    const answered: CommitFaultAnswer = "status" in fault ? fault.status : "drop" in fault ? fault.drop : "hang";
    record.scripted = true;
    record.afterCommit = { committedStatus: reply.status, answered };
    this.afterCommitFaults.push({
      method: record.method,
      path: record.path,
      committedStatus: reply.status,
      answered,
      messageIds: [...new Set(messageIds)],
      time: Date.now(),
    });
    if ("status" in fault) {
      this.finish(res, record, scriptedReply(this.limiter, record.method, record.path, fault));
      return;
    }
    record.status = 0;
    this.requests.push(record);
    const socket = req.socket;
    if ("drop" in fault) {
      if (fault.drop === "reset") socket.resetAndDestroy();
      else socket.destroy();
      return;
    }
    if (fault.ms !== undefined) setTimeout(() => socket.destroy(), fault.ms).unref();
  }

  private finish(res: http.ServerResponse, record: RequestRecord, reply: Reply): void {
    record.status = reply.status;
    this.requests.push(record);
    const headers: Record<string, string> = { ...reply.headers };
    if (!headers["X-RateLimit-Bucket"] && reply.status !== 429) {
      Object.assign(headers, this.limiter.scriptedHeaders(record.method, record.path, 0));
      headers["X-RateLimit-Remaining"] = headers["X-RateLimit-Limit"]!;
    }
    if (reply.status === 204 || reply.body === undefined) {
      res.writeHead(reply.status === 200 ? 204 : reply.status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(reply.body);
    headers["Content-Type"] = "application/json";
    headers["Content-Length"] = String(Buffer.byteLength(text));
    res.writeHead(reply.status, headers);
    res.end(text);
  }

  private authOk(auth: string | null): boolean {
    if (!auth) return false;
    if (this.token !== undefined) return auth === `Bot ${this.token}`;
    return /^Bot \S+/.test(auth);
  }
}

/** Parses a JSON body, or a multipart one (`payload_json` plus files). Throws on malformed JSON. */
async function parseRequest(
  method: string,
  path: string,
  query: URLSearchParams,
  headers: http.IncomingHttpHeaders,
  raw: Buffer,
): Promise<ParsedRequest> {
  const auth = typeof headers.authorization === "string" ? headers.authorization : null;
  const ct = String(headers["content-type"] ?? "");
  const out: ParsedRequest = { method, path, query, body: null, files: [], auth };
  if (raw.length === 0) return out;
  if (ct.startsWith("multipart/form-data")) {
    const form = await new Request("http://sim.local/", { method: "POST", headers: { "content-type": ct }, body: raw }).formData();
    for (const [name, value] of form.entries()) {
      if (typeof value === "string") {
        if (name === "payload_json") out.body = JSON.parse(value) as Json;
      } else {
        const data = Buffer.from(await value.arrayBuffer());
        out.files.push({ name, filename: value.name, size: value.size, contentType: value.type || "application/octet-stream", data });
      }
    }
    return out;
  }
  out.body = JSON.parse(raw.toString("utf8")) as Json;
  return out;
}
