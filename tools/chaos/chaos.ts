/**
 * `npm run chaos`: a private redis-server (AOF, appendfsync everysec as in docker-compose.yml),
 * two or more workers and a local adapter process as real processes. While the adapter sends
 * 200 messages over 20 conversations (paced over --send-s), workers are SIGKILLed (seeded
 * targets, spread over all workers) and Redis is SIGKILLed and restarted on its AOF, so some
 * messages are refused while it is down and retried. Then the checker (checkDelivery.ts) decides:
 * every accepted message answered exactly once, in order, delivered as stored, memory alternating,
 * nothing stuck — Redis's own fsync-window losses counted apart. Exits 1 on any failure.
 *
 * `--platforms local,discord,slack` adds Discord and Slack: their loopback simulators run in this
 * process (test/sim, the one place tools/ may import from test/), their adapters as `bin/start.ts`
 * processes pointed at them, simulated users post there (--platform-conversations each), the
 * adapters are SIGKILLed too (--adapter-kills each) and platform faults injected (--platform-faults
 * each); checkSurface.ts then checks what each platform shows.
 *
 *   npm run chaos -- [--seed N] [--conversations 20] [--messages 10] [--workers 2] [--kills 4]
 *                    [--send-s 20] [--redis-down-ms 2000] [--fsync-window-ms 2000] [--settle-s 180]
 *                    [--platforms local] [--platform-conversations 6] [--adapter-kills 2] [--platform-faults 6]
 *
 * Redis: always its own private redis-server, because the run SIGKILLs it; REDIS_URL is never
 * used (someone else's Redis is never killed). REDIS_PREFIX is honoured for the keys.
 */
import { randomInt } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runMain } from "../../bin/runMain.ts";
import { loadConfig } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createRedis, redactUrl } from "../../src/redisConnection.ts";
import { ensureTestModel } from "../gguf/ensureTestModel.ts";
import { mulberry32 } from "../random.ts";
import { planFaults } from "./chaosPlan.ts";
import { summarize } from "./chaosSummary.ts";
import { type ChaosTraffic, LocalTraffic } from "./chaosTraffic.ts";
import { checkDelivery, type DeliverySummary, type RedisCrash, type SentRecord } from "./checkDelivery.ts";
import { checkSurface } from "./checkSurface.ts";
import { DiscordTraffic } from "./DiscordTraffic.ts";
import type { PlatformTraffic } from "./platformTraffic.ts";
import { INSTALL_REDIS_HINT, RedisServerProcess } from "./RedisServerProcess.ts";
import { readChaosState } from "./readChaosState.ts";
import { SlackTraffic } from "./SlackTraffic.ts";
import { WorkerProcess } from "./WorkerProcess.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const log = (line: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const APPENDFSYNC = "everysec";
/** Loading the model takes a few seconds, much longer on a busy machine. */
const WORKER_START_MS = 300_000;
/** Platforms with a ChaosTraffic. */
const PLATFORMS = ["local", "discord", "slack"];
/** A moderator's deletion: the bot may still touch the reply this long after (an edit in flight, the event's way). */
const DELETE_GRACE_MS = 10_000;

function positiveInt(name: string, value: string | undefined, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min} (got ${value})`);
  return n;
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      seed: { type: "string" },
      conversations: { type: "string", default: "20" },
      messages: { type: "string", default: "10" },
      workers: { type: "string", default: "2" },
      kills: { type: "string", default: "4" },
      "send-s": { type: "string", default: "20" },
      "redis-down-ms": { type: "string", default: "2000" },
      "fsync-window-ms": { type: "string", default: "2000" },
      "settle-s": { type: "string", default: "180" },
      platforms: { type: "string", default: "local" },
      "platform-conversations": { type: "string", default: "6" },
      "adapter-kills": { type: "string", default: "2" },
      "platform-faults": { type: "string", default: "6" },
      "without-faults": { type: "string", default: "" },
      logs: { type: "string" },
    },
  });
  const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : positiveInt("seed", values.seed, 0);
  const conversations = positiveInt("conversations", values.conversations);
  // Memory must never be trimmed for the checker's delivered = stored comparison (MAX_STORED_TURNS, context below).
  const perConversation = positiveInt("messages", values.messages);
  if (perConversation > 150) throw new Error("--messages is at most 150 (memory keeps 400 turns per conversation)");
  const workerCount = positiveInt("workers", values.workers, 2);
  const kills = positiveInt("kills", values.kills, workerCount);
  const sendMs = positiveInt("send-s", values["send-s"]) * 1000;
  const redisDownMs = positiveInt("redis-down-ms", values["redis-down-ms"], 500);
  const fsyncWindowMs = positiveInt("fsync-window-ms", values["fsync-window-ms"], 0);
  const platforms = values.platforms.split(",").map((p) => p.trim());
  const platformConversations = positiveInt("platform-conversations", values["platform-conversations"]);
  const adapterKills = positiveInt("adapter-kills", values["adapter-kills"], 0);
  const platformFaults = positiveInt("platform-faults", values["platform-faults"], 0);
  const without = values["without-faults"].split(",").filter(Boolean);
  /** Where to keep what each worker and adapter process printed (for a failure's story). */
  const logs = values.logs ? path.resolve(values.logs) : undefined;
  for (const p of platforms) {
    if (!PLATFORMS.includes(p)) {
      throw new Error(
        `--platforms ${p}: not in the chaos run yet (only ${PLATFORMS.join(", ")}); see tools/chaos/chaosTraffic.ts for what it needs`,
      );
    }
  }
  if (!RedisServerProcess.installed())
    throw new Error(`the chaos run needs a redis-server binary to start (and kill) its own: ${INSTALL_REDIS_HINT}`);

  const config = loadConfig();
  const defaults = loadConfig({});
  const model = await ensureTestModel({ shape: "tiny", type: "f32", seed: 1 });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "qwenbot-chaos-"));
  const redisServer = await RedisServerProcess.start({ appendfsync: APPENDFSYNC });
  const keys = new Keys(config.REDIS_PREFIX);
  log(
    `Redis: a private redis-server on port ${redisServer.port} (AOF appendfsync ${APPENDFSYNC}, data in ${redisServer.dir}). ` +
      `The run SIGKILLs Redis, so it never uses REDIS_URL${config.REDIS_URL !== defaults.REDIS_URL ? ` (${redactUrl(config.REDIS_URL)}: not touched)` : ""} ` +
      `or any server it did not start; keys under REDIS_PREFIX "${config.REDIS_PREFIX}".`,
  );
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: config.REDIS_PREFIX,
    MODEL: model,
    THREADS: "1",
    EXTERNAL_WORKERS: "true",
    STREAM_INTERVAL_MS: "300",
    WORKER_CONCURRENCY: "2",
    // Room for every turn of a conversation, so memory is never trimmed (the checker relies on it).
    CONTEXT_SIZE: String(Math.max(2048, 2 ** Math.ceil(Math.log2(perConversation * 80 + 512)))),
    MAX_NEW_TOKENS: "16",
    JOB_LOCK_MS: "2000",
    LOCAL_STREAM_INTERVAL_MS: "100",
    SHUTDOWN_GRACE_MS: "2000",
  };
  log(
    `seed ${seed}; model ${path.relative(ROOT, model)}; ${workerCount} workers; ${conversations}×${perConversation} messages over ~${sendMs / 1000} s; ` +
      `${kills} worker kills, 1 Redis kill (${redisDownMs} ms down)`,
  );
  /** Start a worker; one that gives up at start (Redis down at that moment) is started again. */
  const startWorker = async (): Promise<WorkerProcess> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await WorkerProcess.start(env, WORKER_START_MS);
      } catch (err) {
        if (attempt >= 5) throw err;
        log(`a worker did not start (${String(err).split("\n")[0]}); starting it again`);
        await sleep(2000);
      }
    }
  };
  const workers: WorkerProcess[] = [];
  const traffic: ChaosTraffic[] = [];
  const onPlatforms: PlatformTraffic[] = [];
  const observer = createRedis(redisServer.url, "worker");
  // A killed worker restarts in the background (it takes seconds), so the next faults stay on time.
  const restarting = new Map<number, Promise<void>>();
  const allRestarted = () => Promise.all(restarting.values());
  try {
    // Simulators first: the workers write replies to them.
    // Each adapter process gets only its own platform's credentials (else it would start both adapters); workers get all.
    const adapterBase = { ...env };
    for (const p of platforms.filter((p) => p !== "local")) {
      const o = { conversations: platformConversations, perConversation, sendMs, seed, env: adapterBase, dir: tmp };
      const t = p === "discord" ? new DiscordTraffic(o) : new SlackTraffic(o);
      t.without = new Set(without.filter((k) => k in t.faultKinds));
      t.logs = logs;
      Object.assign(env, await t.startSimulator());
      onPlatforms.push(t);
    }
    for (const k of without) {
      if (!onPlatforms.some((t) => k in t.faultKinds))
        throw new Error(
          `--without-faults ${k}: no such fault on ${onPlatforms.map((t) => t.name).join(", ") || "the platforms of this run"}`,
        );
    }
    // Workers and adapters load at the same time; then every platform starts sending at once.
    const starting = [...Array.from({ length: workerCount }, () => startWorker()), ...onPlatforms.map((t) => t.startAdapter())];
    const started = await Promise.allSettled(starting);
    for (const r of started.slice(0, workerCount)) if (r.status === "fulfilled") workers.push(r.value as WorkerProcess);
    for (const r of started) if (r.status === "rejected") throw r.reason;
    if (platforms.includes("local")) traffic.push(new LocalTraffic({ conversations, perConversation, sendMs, seed, env, dir: tmp }));
    traffic.push(...onPlatforms);
    await Promise.all(traffic.map((t) => t.start()));
    const sendingFrom = Date.now();
    let sendingUntil = 0;
    const sending = Promise.all(traffic.map((t) => t.finished())).then((all) => {
      sendingUntil = Date.now();
      return all;
    });
    sending.catch(() => {}); // awaited below; do not let a failure go unhandled meanwhile

    const killsPerWorker = workers.map(() => 0);
    const workerRestarts: number[] = [];
    const redisCrashes: RedisCrash[] = [];
    const delayedFsync: number[] = [];
    const random = mulberry32(seed ^ 0x5eed);
    const plan = planFaults({
      seed,
      workers: workerCount,
      kills,
      sendMs,
      redisDownMs,
      platforms: onPlatforms.map((t) => t.name),
      adapterKills,
      platformFaults,
    });
    for (const ev of plan) {
      await sleep(sendingFrom + ev.at - Date.now());
      if (ev.kind === "killAdapter" || ev.kind === "platformFault") {
        const t = onPlatforms.find((p) => p.name === ev.platform)!;
        if (ev.kind === "platformFault") log(`${ev.platform}: ${t.fault(random)}`);
        else {
          log(`SIGKILL the ${ev.platform} adapter`);
          await t.killAdapter();
        }
      } else if (ev.kind === "killWorker") {
        await restarting.get(ev.worker);
        const w = workers[ev.worker]!;
        log(`SIGKILL worker ${ev.worker + 1} (pid ${w.child.pid})`);
        w.kill("SIGKILL");
        await w.exit();
        if (logs) await w.saveOutput(path.join(logs, `worker${ev.worker + 1}-${killsPerWorker[ev.worker]! + 1}.log`));
        killsPerWorker[ev.worker]!++;
        const killedAt = Date.now();
        const restart = startWorker().then((fresh) => {
          workers[ev.worker] = fresh;
          workerRestarts.push((Date.now() - killedAt) / 1000);
          log(`worker ${ev.worker + 1} restarted`);
        });
        restart.catch(() => {}); // awaited later (next kill of this worker, Redis kill, the end)
        restarting.set(ev.worker, restart);
      } else {
        const info = await observer.info("persistence");
        delayedFsync.push(Number(/aof_delayed_fsync:(\d+)/.exec(info)?.[1] ?? Number.NaN));
        const killedAt = Date.now();
        log(`SIGKILL Redis (pid ${redisServer.pid})${sendingUntil ? "" : " while messages are being sent"}`);
        await redisServer.crash();
        await sleep(redisDownMs);
        await redisServer.up();
        redisCrashes.push({ killedAt, backAt: Date.now() });
        log("Redis is back (restarted on its AOF)");
      }
    }
    await allRestarted();
    for (const t of onPlatforms) await t.settled();
    let sent: SentRecord[] = (await sending).flat();
    log(`all ${sent.length} messages accepted; waiting for the answers`);

    const deadline = Date.now() + positiveInt("settle-s", values["settle-s"]) * 1000;
    let summary: DeliverySummary;
    const facts = { redisCrashes, fsyncWindowMs };
    // What a platform took is read again each time: a reply may still appear for a message posted while its adapter restarted.
    const check = async () => {
      const parts = await Promise.all(traffic.map(async (t) => ({ traffic: t, sent: await t.finished() })));
      sent = parts.flatMap((p) => p.sent);
      return checkDelivery(await readChaosState(observer, keys, parts), sent, facts);
    };
    for (;;) {
      summary = await check();
      if (summary.stuck === 0 || Date.now() > deadline) break;
      log(`${summary.answeredExactlyOnce}/${summary.sent} answered, ${summary.stuck} waiting`);
      await sleep(2000);
    }
    const lostIds = new Set(summary.lostByRedisIds);
    const platformRuns = onPlatforms.map((t) => {
      const mine = sent.filter((r) => r.conversationKey.startsWith(`${t.name}:`));
      const lostByRedis = new Set(mine.filter((r) => lostIds.has(r.requestId)).map((r) => r.messageId));
      return {
        name: t.name,
        sent: mine.length,
        retries: t.retries(),
        adapterKills: t.adapterKills,
        faults: t.faults,
        recoveries: t.recoveries,
        surface: checkSurface(t.observe(mine), { lostByRedis, graceMs: DELETE_GRACE_MS }),
      };
    });
    const verdict = summarize({
      platformRuns,
      workerRestarts,
      seed,
      platforms,
      killsPerWorker,
      appendfsync: APPENDFSYNC,
      redisCrashes,
      delayedFsyncBeforeCrash: delayedFsync,
      fsyncWindowMs,
      sendingFrom,
      sendingUntil,
      sent,
      summary,
    });
    process.stdout.write(verdict.lines.join("\n"));
    return verdict.ok ? 0 : 1;
  } finally {
    await Promise.allSettled(restarting.values());
    observer.disconnect();
    for (const t of traffic) await t.stop();
    for (const t of onPlatforms) if (!traffic.includes(t)) await t.stop();
    for (const [i, w] of workers.entries()) {
      await w.stop();
      if (logs) await w.saveOutput(path.join(logs, `worker${i + 1}-last.log`));
    }
    await redisServer.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
