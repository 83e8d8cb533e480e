/**
 * The operations HTTP server (METRICS_PORT):
 * - `GET /healthz` — the process is alive (always 200 while the event loop runs);
 * - `GET /readyz`  — every readiness check passes (Redis answers PING; a worker has its model
 *   loaded; adapters are connected to their platforms): 200, else 503 with the reasons;
 * - `GET /metrics` — Prometheus exposition text.
 * Both health answers are small JSON objects: `{"status":"ready","checks":{"redis":"ok",…}}`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import type { Logger } from "../logger.ts";
import type { Metrics } from "./metrics.ts";

/** Resolves (or returns) `undefined` when ready; a string (or a throw) says why not. */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

export interface HealthServerOptions {
  port: number;
  /** Default 127.0.0.1; in a container use 0.0.0.0 (METRICS_HOST). */
  host?: string;
  metrics?: Metrics;
  checks?: Record<string, ReadinessCheck>;
  /** A check that takes longer than this counts as failed (default 2000 ms). */
  checkTimeoutMs?: number;
  logger?: Logger;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string>;
}

export interface HealthServer {
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  addCheck(name: string, check: ReadinessCheck): void;
  readiness(): Promise<ReadinessReport>;
  close(): Promise<void>;
}

/** Ready while `redis` answers PING within `timeoutMs`. Use a fail-fast (producer) connection. */
export function redisCheck(redis: Redis, timeoutMs = 1000): ReadinessCheck {
  return async () => {
    // A lazy connection that never connected (or gave up) is (re)started here; ioredis then keeps reconnecting.
    if (redis.status === "wait" || redis.status === "end") redis.connect().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        redis.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no PONG within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return undefined;
    } catch (err) {
      return `Redis unreachable (${err instanceof Error ? err.message : String(err)})`;
    } finally {
      clearTimeout(timer);
    }
  };
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const res = await Promise.race([
      Promise.resolve().then(check),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
      }),
    ]);
    return res ?? "ok";
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const checks = new Map<string, ReadinessCheck>(Object.entries(opts.checks ?? {}));
  const timeoutMs = opts.checkTimeoutMs ?? 2000;
  const host = opts.host ?? "127.0.0.1";

  const readiness = async (): Promise<ReadinessReport> => {
    const entries = [...checks.entries()];
    const results = await Promise.all(entries.map(([, check]) => runCheck(check, timeoutMs)));
    const out: Record<string, string> = {};
    for (const [i, [name]] of entries.entries()) out[name] = results[i]!;
    return { ready: results.every((r) => r === "ok"), checks: out };
  };

  const send = (res: http.ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed\n");
    if (url.pathname === "/healthz") return send(res, 200, "application/json", `${JSON.stringify({ status: "alive" })}\n`);
    if (url.pathname === "/readyz") {
      void readiness().then((r) => {
        if (!r.ready) opts.logger?.debug({ checks: r.checks }, "not ready");
        send(
          res,
          r.ready ? 200 : 503,
          "application/json",
          `${JSON.stringify({ status: r.ready ? "ready" : "not ready", checks: r.checks })}\n`,
        );
      });
      return;
    }
    if (url.pathname === "/metrics" && opts.metrics) {
      const metrics = opts.metrics;
      void metrics.scrape().then(
        (text) => send(res, 200, metrics.contentType, text),
        (err: unknown) => {
          opts.logger?.warn({ err }, "metrics scrape failed");
          send(res, 500, "text/plain", "metrics unavailable\n");
        },
      );
      return;
    }
    send(res, 404, "text/plain", "not found: try /healthz, /readyz or /metrics\n");
  });
  // Scrapers keep connections alive; don't let them hold the process open at shutdown.
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  opts.logger?.info({ port, host }, "health and metrics server listening (/healthz, /readyz, /metrics)");
  return {
    port,
    url: `http://${shownHost}:${port}`,
    addCheck(name, check) {
      checks.set(name, check);
    },
    readiness,
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
