/**
 * The REST route table: `add("GET", "/channels/:channel", handler)` turns `:params` into capture
 * groups; `match` finds the first route for a method and path (paths without `/api/vN`).
 * Route files under routes/ register themselves here.
 */
import type { ApiErrorResponse } from "../discordErrors.ts";
import type { Json } from "../types.ts";

/** What a handler answers: status, JSON body (none → 204) and extra headers. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A request as handlers see it: JSON body (or multipart `payload_json`) parsed, files listed. */
export interface ParsedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Json | unknown[] | null;
  files: UploadedFile[];
  auth: string | null;
}

export interface UploadedFile {
  /** the form field name, `files[n]` as discord.js sends it */
  name: string;
  filename: string;
  size: number;
  contentType: string;
  /** the bytes (not copied into `requests` recordings) */
  data?: Buffer;
}

export type Handler = (req: ParsedRequest, params: string[]) => Reply | Promise<Reply>;

export function json(body: unknown, status = 200): Reply {
  return { status, body };
}

export function errorReply(e: ApiErrorResponse): Reply {
  return { status: e.status, body: e.body };
}

export class Router {
  private readonly routes: Array<{ method: string; re: RegExp; handler: Handler }> = [];

  add(method: string, pattern: string, handler: Handler): void {
    const re = new RegExp(`^${pattern.replace(/:[a-z]+/g, "([^/]+)")}$`);
    this.routes.push({ method, re, handler });
  }

  match(method: string, path: string): { handler: Handler; params: string[] } | null {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.re.exec(path);
      if (m) return { handler: r.handler, params: m.slice(1).map((x) => decodeURIComponent(x ?? "")) };
    }
    return null;
  }

  /** true when some route has this path (for another method): the answer is then 405, not 404 */
  knowsPath(path: string): boolean {
    return this.routes.some((r) => r.re.test(path));
  }
}
