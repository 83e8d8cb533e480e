/**
 * The Web API dispatcher (`POST /api/<method>`): parses params (form or JSON; `blocks`,
 * `attachments`, `metadata` decoded), finds the token (Bearer header or `token` param) and its
 * workspace, applies scripted failures, then auth (bot vs app-level token), then rate limits, then
 * runs the method. Every call is recorded (`calls()`), whatever the answer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { type ApiContext, type MethodSpec, SimApiError } from "../methods/MethodSpec.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { SimCall } from "../types.ts";
import { asString, readBody } from "../util.ts";
import { CallFaults } from "./faults.ts";

export class WebApi {
  /** every Web API call, oldest first */
  readonly callLog: SimCall[] = [];
  readonly faults = new CallFaults();

  constructor(
    private readonly state: SlackState,
    private readonly methods: Record<string, MethodSpec>,
  ) {}

  async handle(method: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const raw = await readBody(req);
    const params: Record<string, unknown> = {};
    for (const [key, value] of url.searchParams) params[key] = value;
    const contentType = String(req.headers["content-type"] ?? "");
    const call: SimCall = { method, params, time, status: 200, ok: false };
    const answer = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void => {
      call.status = status;
      call.ok = status === 200 && body.ok === true;
      if (typeof body.error === "string") call.error = body.error;
      call.response = body;
      this.callLog.push(call);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (raw.length > 0) {
        if (contentType.includes("application/json")) {
          Object.assign(params, JSON.parse(raw) as Record<string, unknown>);
        } else {
          for (const [key, value] of Object.entries(parseQuery(raw))) params[key] = Array.isArray(value) ? value[0] : value;
        }
      }
    } catch {
      answer(200, { ok: false, error: "invalid_json" });
      return;
    }
    for (const key of ["blocks", "attachments", "metadata"]) {
      const value = params[key];
      if (typeof value === "string" && value.length > 0) {
        try {
          params[key] = JSON.parse(value);
        } catch {
          answer(200, { ok: false, error: key === "blocks" ? "invalid_blocks_format" : "invalid_arguments" });
          return;
        }
      }
    }
    const header = req.headers.authorization;
    let token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7).trim() : "";
    if (!token && typeof params.token === "string") token = params.token;
    delete params.token;
    if (token) call.token = token;
    const team = this.state.workspaces.teamForToken(token);
    if (team) call.teamId = team.id;

    const failure = this.faults.take(method, team?.id);
    if (failure) {
      const spec = failure;
      if ("error" in spec) {
        answer(200, { ok: false, error: spec.error });
      } else if (spec.status === 429) {
        const retryAfterSec = "retryAfterSec" in spec && spec.retryAfterSec !== undefined ? spec.retryAfterSec : 1;
        call.retryAfterSec = retryAfterSec;
        answer(429, { ok: false, error: "ratelimited" }, { "retry-after": String(retryAfterSec) });
      } else {
        call.status = spec.status;
        call.ok = false;
        call.error = `http_${spec.status}`;
        this.callLog.push(call);
        res.writeHead(spec.status, { "content-type": "text/plain" });
        res.end("body" in spec && spec.body !== undefined ? spec.body : "simulated server error");
      }
      return;
    }

    const spec = this.methods[method];
    if (!spec) {
      answer(200, { ok: false, error: "unknown_method" });
      return;
    }
    if (!token) {
      answer(200, { ok: false, error: "not_authed" });
      return;
    }
    const isAppToken = token.startsWith("xapp-");
    if (spec.auth === "app" && !isAppToken) {
      answer(200, { ok: false, error: team ? "not_allowed_token_type" : "invalid_auth" });
      return;
    }
    if (spec.auth === "bot") {
      if (isAppToken) {
        answer(200, { ok: false, error: "not_allowed_token_type" });
        return;
      }
      if (!team) {
        answer(200, { ok: false, error: "invalid_auth" });
        return;
      }
    }

    const limit = this.faults.limitFor(method);
    const limitKey = team ? (limit?.per === "channel" ? `${team.id}:${asString(params.channel) ?? ""}` : team.id) : token;
    if (limit) {
      const retryAfterSec = limit.limiter.retryAfterSec(limitKey, time);
      if (retryAfterSec > 0) {
        call.retryAfterSec = retryAfterSec;
        answer(429, { ok: false, error: "ratelimited" }, { "retry-after": String(retryAfterSec) });
        return;
      }
      limit.limiter.record(limitKey, time);
    }

    const ctx: ApiContext = { method, params, token, team, after: [] };
    let body: Record<string, unknown>;
    try {
      body = { ok: true, ...spec.run(ctx) };
    } catch (error) {
      if (!(error instanceof SimApiError)) throw error;
      body = { ok: false, error: error.code };
    }
    answer(200, body);
    for (const task of ctx.after) setImmediate(task);
  }
}
