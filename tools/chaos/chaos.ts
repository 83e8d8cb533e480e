/**
 * `npm run chaos`: Redis, two or more workers and a local adapter as real processes; sends 200
 * messages across 20 conversations while killing workers (SIGKILL, ≥ 3 times) and restarting
 * Redis once; then checks that every message got exactly one answer, in order, and that no
 * placeholder is left waiting. Exits non-zero otherwise.
 *
 *   npm run chaos -- [--conversations 20] [--messages 10] [--workers 2] [--kills 3]
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { runMain } from "../../bin/runMain.ts";
import { Keys } from "../../src/keys.ts";
import { createRedis } from "../../src/redisConnection.ts";
import { ensureTestModel } from "../gguf/ensureTestModel.ts";
import type { SentRecord } from "./chaosClient.ts";
import { checkDelivery } from "./checkDelivery.ts";
import { RedisServerProcess } from "./RedisServerProcess.ts";
import { WorkerProcess } from "./WorkerProcess.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

runMain(async () => {
  const { values } = parseArgs({
    options: {
      conversations: { type: "string", default: "20" },
      messages: { type: "string", default: "10" },
      workers: { type: "string", default: "2" },
      kills: { type: "string", default: "3" },
      "settle-s": { type: "string", default: "180" },
    },
  });
  const conversations = Number(values.conversations);
  const perConversation = Number(values.messages);
  const workerCount = Math.max(2, Number(values.workers));
  const kills = Math.max(3, Number(values.kills));
  const model = await ensureTestModel({ shape: "tiny", type: "f32", seed: 1 });
  const redisServer = await RedisServerProcess.start();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "qwenbot-chaos-"));
  const sentFile = path.join(tmp, "sent.jsonl");
  const prefix = `chaos-${randomUUID().slice(0, 8)}`;
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: prefix,
    MODEL: model,
    THREADS: "1",
    WORKER_CONCURRENCY: "2",
    CONTEXT_SIZE: "1024",
    MAX_NEW_TOKENS: "16",
    JOB_LOCK_MS: "2000",
    LOCAL_STREAM_INTERVAL_MS: "100",
    SHUTDOWN_GRACE_MS: "2000",
  };
  log(
    `redis ${redisServer.url} (AOF), model ${path.relative(ROOT, model)}, ${workerCount} workers, ${conversations}×${perConversation} messages`,
  );
  const workers: WorkerProcess[] = [];
  for (let i = 0; i < workerCount; i++) workers.push(await WorkerProcess.start(env));
  let restarted = 0;
  try {
    const client = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(ROOT, "tools/chaos/chaosClient.ts"),
        "--conversations",
        String(conversations),
        "--messages",
        String(perConversation),
        "--out",
        sentFile,
      ],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", LOG_LEVEL: "warn", ...env },
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    const clientDone = new Promise<number | null>((resolve) => client.on("exit", resolve));
    // The faults, spread over the sending phase.
    let redisRestarted = false;
    for (let k = 0; k < kills; k++) {
      await sleep(2500 + Math.random() * 1500);
      const victim = Math.floor(Math.random() * workers.length);
      log(`SIGKILL worker ${victim + 1} (pid ${workers[victim]!.child.pid})`);
      workers[victim]!.kill("SIGKILL");
      await workers[victim]!.exit();
      if (k === 1 && !redisRestarted) {
        log("restarting Redis");
        await redisServer.down();
        await sleep(1500);
        await redisServer.up();
        redisRestarted = true;
        log("Redis is back");
      }
      workers[victim] = await WorkerProcess.start(env);
      restarted++;
      log(`worker ${victim + 1} restarted`);
    }
    const code = await clientDone;
    if (code !== 0) throw new Error(`the chaos client exited with ${code}`);
    const sent = (await fs.readFile(sentFile, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SentRecord);
    log(`all ${sent.length} messages accepted; waiting for the answers`);
    const redis = createRedis(redisServer.url, "worker");
    const keys = new Keys(prefix);
    const deadline = Date.now() + Number(values["settle-s"]) * 1000;
    let summary = await checkDelivery(redis, keys, sent);
    while (summary.answeredExactlyOnce < summary.sent && Date.now() < deadline) {
      await sleep(2000);
      summary = await checkDelivery(redis, keys, sent);
      log(`${summary.answeredExactlyOnce}/${summary.sent} answered`);
    }
    redis.disconnect();
    const out = [
      "",
      "chaos summary",
      `  workers killed (SIGKILL)   ${restarted}`,
      `  Redis restarts             ${redisRestarted ? 1 : 0}`,
      `  sent                       ${summary.sent}`,
      `  answered exactly once      ${summary.answeredExactlyOnce}`,
      `  lost                       ${summary.lost}`,
      `  duplicated                 ${summary.duplicated}`,
      `  out of order               ${summary.outOfOrder}`,
      `  stuck placeholders         ${summary.stuck}`,
      "",
    ];
    process.stdout.write(out.join("\n"));
    if (summary.problems.length > 0)
      process.stdout.write(
        `problems:\n${summary.problems
          .slice(0, 20)
          .map((p) => `  - ${p}`)
          .join("\n")}\n`,
      );
    const ok =
      summary.lost === 0 &&
      summary.duplicated === 0 &&
      summary.outOfOrder === 0 &&
      summary.stuck === 0 &&
      summary.answeredExactlyOnce === summary.sent;
    return ok ? 0 : 1;
  } finally {
    for (const w of workers) await w.stop();
    await redisServer.close();
    await fs.rm(tmp, { recursive: true, force: true });
  }
});
