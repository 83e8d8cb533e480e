/**
 * The Web API dispatcher (`POST /api/<method>`): parses params (form or JSON; `blocks`,
 * `attachments`, `metadata`, `chunks`, `prompts`, `files`, `view`, `loading_messages` decoded),
 * finds the token (Bearer header or `token` param) and its workspace, applies scripted failures, then
 * auth (bot vs app-level token), then the workspace's switched-off methods, then scopes, then rate
 * limits (explicit ones, else Slack's tiers), then runs the method. Every call is recorded (`calls()`),
 * whatever the answer. A failure scripted `afterCommit` runs the method first, then fails the answer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { METHOD_FACTS, scopesNeeded, TIER_PER_MINUTE } from "../methods/catalog.ts";
import { type ApiContext, type MethodSpec, SimApiError } from "../methods/MethodSpec.ts";
import { channelTypeIn } from "../state/messageShapes.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { FailSpec, SimCall } from "../types.ts";
import { asString, readBody } from "../util.ts";
import { CallFaults } from "./faults.ts";
import { SlidingWindowLimiter } from "./SlidingWindowLimiter.ts";

/** Params Slack takes as JSON-encoded strings in a form body. */
const JSON_PARAMS = ["blocks", "attachments", "metadata", "chunks", "prompts", "files", "view", "loading_messages", "file_ids"];

interface ActiveLimitRef {
  limiter: SlidingWindowLimiter;
  per: "team" | "channel";
}

export class WebApi {
  /** every Web API call, oldest first */
  readonly callLog: SimCall[] = [];
  readonly faults = new CallFaults();
  private readonly tierLimiters = new Map<string, SlidingWindowLimiter>();
  private readonly hangTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly state: SlackState,
    private readonly methods: Record<string, MethodSpec>,
  ) {}

  /** Whether the simulator implements `method` (else it answers unknown_method). */
  knows(method: string): boolean {
    return method in this.methods;
  }

  /** Stops the timers of hung requests. */
  close(): void {
    for (const timer of this.hangTimers) clearTimeout(timer);
    this.hangTimers.clear();
  }

  async handle(method: string, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const time = Date.now();
    const raw = await readBody(req);
    const params: Record<string, unknown> = {};
    for (const [key, value] of url.searchParams) params[key] = value;
    const contentType = String(req.headers["content-type"] ?? "");
    const call: SimCall = { method, params, time, status: 200, ok: false };
    const headers: Record<string, string> = {};
    const answer = (status: number, body: Record<string, unknown>, extra: Record<string, string> = {}): void => {
      call.status = status;
      call.ok = status === 200 && body.ok === true;
      if (typeof body.error === "string") call.error = body.error;
      call.response = body;
      this.callLog.push(call);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers, ...extra });
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
    for (const key of JSON_PARAMS) {
      const value = params[key];
      if (typeof value === "string" && value.length > 0) {
        try {
          params[key] = JSON.parse(value);
        } catch {
          answer(200, {
            ok: false,
            error: key === "blocks" ? "invalid_blocks_format" : key === "chunks" ? "invalid_chunks" : "invalid_arguments",
          });
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

    let afterCommit: FailSpec | undefined;
    const failure = this.faults.take(method, team?.id);
    if (failure) {
      if ("afterCommit" in failure && failure.afterCommit) {
        afterCommit = failure;
      } else {
        this.fail(failure, call, res, headers);
        return;
      }
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
      const disabled = team.disabledMethods.get(method);
      if (disabled !== undefined) {
        answer(200, { ok: false, error: disabled });
        return;
      }
      if (team.scopes) {
        headers["x-oauth-scopes"] = [...team.scopes].join(",");
        const channel = asString(params.channel) ?? asString(params.channel_id);
        const needed = scopesNeeded(method, channel !== undefined ? channelTypeIn(team, channel) : undefined);
        if (needed.length > 0) headers["x-accepted-oauth-scopes"] = needed.join(",");
        const missing = needed.filter((s) => !team.scopes?.has(s));
        if (missing.length > 0) {
          answer(200, { ok: false, error: "missing_scope", needed: missing.join(","), provided: [...team.scopes].join(",") });
          return;
        }
      }
    }

    const limit = this.limitFor(method);
    if (limit) {
      const limitKey = team ? (limit.per === "channel" ? `${team.id}:${asString(params.channel) ?? ""}` : team.id) : token;
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
      body = { ok: false, error: error.code, ...error.extra };
    }
    if (afterCommit) {
      call.committed = body.ok === true;
      call.response = body;
      this.fail(afterCommit, call, res, headers);
    } else {
      answer(200, body);
    }
    for (const task of ctx.after) setImmediate(task);
  }

  /** Answers a scripted failure (and logs the call). */
  private fail(spec: FailSpec, call: SimCall, res: ServerResponse, headers: Record<string, string>): void {
    call.ok = false;
    if ("error" in spec) {
      call.status = 200;
      call.error = spec.error;
      call.response = { ok: false, error: spec.error };
      this.callLog.push(call);
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(call.response));
      return;
    }
    if ("hang" in spec) {
      call.status = 0;
      call.error = "timeout";
      this.callLog.push(call);
      if (spec.hangMs !== undefined) {
        const timer = setTimeout(() => {
          this.hangTimers.delete(timer);
          res.socket?.destroy();
        }, spec.hangMs);
        timer.unref();
        this.hangTimers.add(timer);
      }
      return;
    }
    if (spec.status === 429) {
      const retryAfterSec = "retryAfterSec" in spec && spec.retryAfterSec !== undefined ? spec.retryAfterSec : 1;
      call.status = 429;
      call.retryAfterSec = retryAfterSec;
      call.error = "ratelimited";
      call.response = { ok: false, error: "ratelimited" };
      this.callLog.push(call);
      res.writeHead(429, { "content-type": "application/json; charset=utf-8", "retry-after": String(retryAfterSec) });
      res.end(JSON.stringify(call.response));
      return;
    }
    call.status = spec.status;
    call.error = `http_${spec.status}`;
    this.callLog.push(call);
    res.writeHead(spec.status, { "content-type": "text/plain" });
    res.end("body" in spec && spec.body !== undefined ? spec.body : "simulated server error");
  }

  /** An explicit limit (setMethodLimit), else the method's tier when tiers apply, else none. */
  private limitFor(method: string): ActiveLimitRef | undefined {
    const explicit = this.faults.limitFor(method);
    if (explicit) return explicit;
    const { settings } = this.state;
    if (settings.nonMarketplaceApp && (method === "conversations.history" || method === "conversations.replies")) {
      return { limiter: this.tierLimiter(method, 1, 60_000), per: "team" };
    }
    const facts = METHOD_FACTS[method];
    if (!facts || settings.rateTiers === "off" || (settings.rateTiers === "new" && !facts.isNew)) return undefined;
    if (facts.tier === "special") {
      if (method === "chat.postMessage") return { limiter: this.tierLimiter(method, 1, 1000), per: "channel" };
      return undefined;
    }
    return { limiter: this.tierLimiter(method, TIER_PER_MINUTE[facts.tier], 60_000), per: "team" };
  }

  private tierLimiter(method: string, limit: number, windowMs: number): SlidingWindowLimiter {
    const key = `${method}:${limit}:${windowMs}`;
    let limiter = this.tierLimiters.get(key);
    if (!limiter) {
      limiter = new SlidingWindowLimiter(limit, windowMs);
      this.tierLimiters.set(key, limiter);
    }
    return limiter;
  }
}
