/**
 * The private redis-server of the tests and of `npm run chaos`: it starts on a free port, keeps
 * acknowledged writes through a SIGKILL under `appendfsync everysec` (restarted on its AOF), and
 * the test run's choice of Redis (use the one that answers, else start one and say so, else one
 * line on how to get Redis).
 */
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisServerProcess } from "../../tools/chaos/RedisServerProcess.ts";
import { chooseTestRedis, NoRedisForTestsError } from "../helpers/chooseTestRedis.ts";

const servers: RedisServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

describe("RedisServerProcess", () => {
  it("is installed here (the tests' fallback and the chaos run need it)", () => {
    expect(RedisServerProcess.installed()).toBe(true);
  });

  it("crashes with SIGKILL under everysec and restarts on its AOF with every acknowledged write", async () => {
    const server = await RedisServerProcess.start({ appendfsync: "everysec" });
    servers.push(server);
    const redis = new Redis(server.url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    redis.on("error", () => {});
    await redis.connect();
    let acked = 0;
    let stop = false;
    const writers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          acked = Math.max(acked, await redis.incr("n"));
        } catch {
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 700));
    const pid = server.pid;
    await server.crash();
    stop = true;
    await Promise.all(writers);
    redis.disconnect();
    expect(() => process.kill(pid!, 0)).toThrow(); // gone
    await server.up();
    const after = new Redis(server.url);
    const recovered = Number(await after.get("n"));
    after.disconnect();
    expect(acked).toBeGreaterThan(100);
    // A killed process loses nothing it acknowledged: Redis write()s the AOF before it replies; the
    // fsync window only matters when the machine itself goes down.
    expect(recovered).toBeGreaterThanOrEqual(acked);
  });

  it("keeps nothing without persistence (the tests' shared server)", async () => {
    const server = await RedisServerProcess.start({ appendfsync: "none" });
    servers.push(server);
    const redis = new Redis(server.url);
    await redis.set("k", "v");
    redis.disconnect();
    await server.crash();
    await server.up();
    const again = new Redis(server.url);
    expect(await again.get("k")).toBeNull();
    again.disconnect();
  });
});

describe("chooseTestRedis", () => {
  const fakeServer = { url: "redis://127.0.0.1:45678", port: 45678, close: async () => {} };

  it("uses a Redis that answers, and starts nothing", async () => {
    let started = 0;
    const c = await chooseTestRedis("redis://127.0.0.1:6379", {
      answers: async () => true,
      installed: () => true,
      startPrivate: async () => {
        started++;
        return fakeServer;
      },
    });
    expect(c).toMatchObject({ url: "redis://127.0.0.1:6379" });
    expect(c.note).toBeUndefined();
    expect(started).toBe(0);
  });

  it("starts a private redis-server when none answers, says so in one line, and stops it", async () => {
    let closed = 0;
    const c = await chooseTestRedis("redis://:secret@127.0.0.1:6379", {
      answers: async () => false,
      installed: () => true,
      startPrivate: async () => ({ ...fakeServer, close: async () => void closed++ }),
    });
    expect(c.url).toBe(fakeServer.url);
    expect(c.note).toBe("no Redis on :***@127.0.0.1:6379: started a private redis-server on port 45678 for the tests");
    await c.stop();
    expect(closed).toBe(1);
  });

  it("fails at once in one line saying how to get Redis when there is neither", async () => {
    const err = await chooseTestRedis("redis://127.0.0.1:6379", {
      answers: async () => false,
      installed: () => false,
      startPrivate: async () => fakeServer,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoRedisForTestsError);
    const message = (err as Error).message;
    expect(message).not.toContain("\n");
    expect(message).toMatch(/^no Redis on 127\.0\.0\.1:6379 and no redis-server binary .*apt-get install redis-server/);
  });
});
