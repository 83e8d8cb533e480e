/**
 * Redis for the terminal commands (`npm run chat`, `npm run ask`): the one at REDIS_URL when it
 * answers; otherwise, when REDIS_URL is local and a `redis-server` is installed, a private one on
 * that address for as long as the command runs (data in LOCAL_REDIS_DIR, append-only file, so a
 * room's memory is still there next time); otherwise one line on how to install or start Redis.
 *
 * The private server runs in its own process group, so Ctrl-C reaches the command, which stops
 * the server after the in-process worker has put its reply back in the queue. When other clients
 * (workers started with `npm run worker`, another chat) still use it at the end, it is left
 * running — and said so; the next command adopts it through its pid file and stops it when done.
 */
import fs from "node:fs/promises";
import path from "node:path";
import type { Config } from "../../src/config.ts";
import { RedisUnavailableError } from "../../src/errors.ts";
import { RedisServer, RedisServerMissingError, redisAnswers } from "../../src/ops/redisServer.ts";
import { redactUrl } from "../../src/redisConnection.ts";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

const INSTALL_REDIS =
  "Install Redis (Debian/Ubuntu: `sudo apt-get install redis-server`, Fedora: `sudo dnf install redis`, macOS: `brew install redis`) and it is started for you, or start one yourself (`redis-server --daemonize yes`), or set REDIS_URL";

export interface LocalRedis {
  /** What was done, for the user (undefined: Redis was there already). */
  status?: string;
  /** Stop the private server unless others still use it (then say so through `say`). */
  release(say: (line: string) => void): Promise<void>;
  /** Signal the private server at once (process exit). */
  killNow(): void;
}

const NOTHING: LocalRedis = { release: async () => undefined, killNow: () => undefined };

/** A folder as the user knows it: relative to the working directory when inside it. */
function shownDir(dir: string): string {
  return dir.startsWith(process.cwd() + path.sep) ? `${path.relative(process.cwd(), dir)}/` : dir;
}

/** REDIS_URL's address when it is a plain local one this process may start a server on. */
function localAddress(url: string): { host: string; port: number; password?: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== "redis:" || !LOCAL_HOSTS.has(u.hostname)) return undefined;
  if (u.username && u.username !== "default") return undefined; // an ACL user a fresh server does not have
  const host = u.hostname === "localhost" ? "127.0.0.1" : u.hostname.replace(/^\[|\]$/g, "");
  return { host, port: Number(u.port || 6379), password: u.password ? decodeURIComponent(u.password) : undefined };
}

/** Other clients connected to the server at `host:port`, not counting the connection asking. */
async function otherClients(host: string, port: number, password?: string): Promise<number> {
  const { Redis } = await import("ioredis");
  const r = new Redis({
    host,
    port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  r.on("error", () => {});
  try {
    await r.connect();
    const list = String(await r.client("LIST"));
    return Math.max(0, list.split("\n").filter((l) => l.trim() !== "").length - 1);
  } catch {
    return 0;
  } finally {
    r.disconnect();
  }
}

/** A private server left running by an earlier command (its pid file, the process still a redis-server). */
async function leftOver(dir: string): Promise<number | undefined> {
  const pid = Number((await fs.readFile(path.join(dir, "redis.pid"), "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  // A redis-server whose working directory is ours (it changes into --dir): not somebody else's Redis.
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => "");
  const ours = await fs.realpath(dir).catch(() => dir);
  return cmdline.includes("redis-server") && cwd === ours ? pid : undefined;
}

function releaser(
  addr: { host: string; port: number; password?: string },
  stop: () => Promise<void>,
  detach: () => void,
): LocalRedis["release"] {
  return async (say) => {
    const others = await otherClients(addr.host, addr.port, addr.password);
    if (others > 0) {
      detach();
      say(
        `The private Redis on ${addr.host}:${addr.port} keeps running: ${others} other client${others === 1 ? "" : "s"} still use${others === 1 ? "s" : ""} it (stop it with \`redis-cli -p ${addr.port} shutdown\`).`,
      );
      return;
    }
    await stop();
  };
}

/** Make sure a Redis answers at REDIS_URL for this command, starting a private one when that is possible. */
export async function ensureLocalRedis(config: Config): Promise<LocalRedis> {
  const addr = localAddress(config.REDIS_URL);
  if (!addr) return NOTHING; // a remote Redis: connecting tells whether it is there
  const shown = redactUrl(config.REDIS_URL);
  const dir = config.localRedisDir;
  if (await redisAnswers(addr.port, addr.host)) {
    const pid = await leftOver(dir);
    if (pid === undefined) return NOTHING;
    const signal = () => {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    };
    return {
      status: `Using the private Redis an earlier command left running on ${addr.host}:${addr.port} (data in ${shownDir(dir)}); it stops when this command ends.`,
      release: releaser(
        addr,
        async () => signal(),
        () => undefined,
      ),
      killNow: signal,
    };
  }
  await fs.mkdir(dir, { recursive: true });
  const args = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--pidfile", path.join(dir, "redis.pid")];
  args.push("--logfile", path.join(dir, "redis.log"));
  if (addr.password) args.push("--requirepass", addr.password);
  let server: RedisServer;
  try {
    server = await RedisServer.start({ port: addr.port, host: addr.host, dir, args, detached: true });
  } catch (err) {
    if (err instanceof RedisServerMissingError)
      throw new RedisUnavailableError(`Redis at ${shown} is not running and no redis-server is installed to start one. ${INSTALL_REDIS}.`);
    throw new RedisUnavailableError(
      `Redis at ${shown} is not running, and a private one could not be started there (${err instanceof Error ? err.message : String(err)}; see ${path.join(dir, "redis.log")}). Start Redis yourself or set REDIS_URL.`,
    );
  }
  return {
    status: `Redis was not running: started a private one on ${addr.host}:${addr.port} for this command (data in ${shownDir(dir)}); it stops when the command ends.`,
    release: releaser(
      addr,
      () => server.stop(),
      () => server.detach(),
    ),
    killNow: () => server.kill(),
  };
}
