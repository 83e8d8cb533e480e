/**
 * How long replies' last edits hold the model (issue 12, "delivery does not hold generation"):
 * N conversations at once on one worker with S sequences, through a sink whose final edit takes
 * --delivery-ms (as when a platform's rate budget makes the last edit wait), once with
 * WORKER_DELIVERY_JOBS=0 (a reply keeps its sequence until delivered, the old behaviour) and once
 * with the default. Prints, per mode: first visible text after sending (median, worst), when the
 * last reply was delivered, and how busy the sequences were.
 *
 *   npx tsx tools/bench/deliveryBench.ts [--conversations 8] [--sequences 2] [--tokens 32]
 *                                        [--delivery-ms 1500] [--model PATH] [--jobs 2]
 *
 * Redis (REDIS_URL) must be running; everything written lives under its own prefix and is removed.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { startWorker } from "../../bin/wiring/startWorker.ts";
import { loadConfig } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import { createLogger } from "../../src/logger.ts";
import { createChatQueue, Ingestor } from "../../src/queue/Ingestor.ts";
import { createRedis } from "../../src/redisConnection.ts";
import type { ChatRequest, EditOptions, ReplySink, ReplyTarget } from "../../src/types.ts";
import type { GenerationEvent } from "../../workers/ChatWorker.ts";
import { loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { ensureTestModel } from "../gguf/ensureTestModel.ts";
import { percentile } from "./stats.ts";

const { values } = parseArgs({
  options: {
    conversations: { type: "string" },
    sequences: { type: "string" },
    tokens: { type: "string" },
    "delivery-ms": { type: "string" },
    model: { type: "string" },
    jobs: { type: "string" },
  },
});
const N = Number(values.conversations ?? 8);
const S = Number(values.sequences ?? 2);
const TOKENS = Number(values.tokens ?? 32);
const DELIVERY_MS = Number(values["delivery-ms"] ?? 1500);
const JOBS = Number(values.jobs ?? 2);

/** A sink whose intermediate edits are instant and whose final edit takes DELIVERY_MS; it notes when each reply first showed text. */
class SlowFinalSink implements ReplySink {
  readonly maxLength = Number.POSITIVE_INFINITY;
  readonly firstText = new Map<string, number>();
  readonly delivered = new Map<string, number>();
  async edit(target: ReplyTarget, text: string, opts: EditOptions): Promise<void> {
    if (text.trim() && !this.firstText.has(target.messageId)) this.firstText.set(target.messageId, Date.now());
    if (opts.final) {
      await new Promise((r) => setTimeout(r, DELIVERY_MS));
      this.delivered.set(target.messageId, Date.now());
    }
  }
  post(): Promise<ReplyTarget> {
    return Promise.reject(new Error("not used"));
  }
}

async function run(runner: ModelRunner, deliveryJobs: number) {
  const base = loadConfig();
  const config = {
    ...base,
    REDIS_PREFIX: `qwenbot-delivery-${randomUUID().slice(0, 8)}`,
    MAX_NEW_TOKENS: TOKENS,
    WORKER_DELIVERY_JOBS: deliveryJobs,
  };
  const logger = createLogger({ level: "silent" });
  const sink = new SlowFinalSink();
  const worker = await startWorker({ config, logger, runner, sinks: { local: sink } });
  const redis = createRedis(config.REDIS_URL, "worker");
  const keys = new Keys(config.REDIS_PREFIX);
  const queue = createChatQueue(redis, keys);
  const ingestor = new Ingestor(redis, queue, keys, { maxInputChars: 10_000 });
  const events: GenerationEvent[] = [];
  const all = new Promise<void>((resolve) =>
    worker.worker.on("generation", (e) => {
      events.push(e);
      if (events.length === N) resolve();
    }),
  );
  const sentAt = Date.now();
  for (let i = 0; i < N; i++) {
    const messageId = randomUUID();
    const request: ChatRequest = {
      requestId: `bench-${messageId}`,
      conversationKey: `local:delivery-${i}`,
      author: { id: "bench", name: "bench" },
      text: `question ${i}: tell me something`,
      receivedAt: Date.now(),
      reply: { platform: "local", channelId: "bench", messageId },
    };
    await ingestor.ingest(request);
  }
  await all;
  const first = events.map((e) => (sink.firstText.get(e.request.reply.messageId) ?? e.result.firstTokenAt) - sentAt);
  const done = Math.max(...sink.delivered.values()) - sentAt;
  const generating = events.reduce((ms, e) => ms + e.result.totalMs, 0);
  await worker.close();
  await queue.close();
  const all2 = await redis.keys(`${config.REDIS_PREFIX}:*`);
  if (all2.length) await redis.del(...all2);
  redis.disconnect();
  return { first, done, busy: generating / (done * S) };
}

const model = values.model ?? (await ensureTestModel({ shape: "tiny", type: "f32", seed: 1 }));
const base = loadConfig();
const runner = new ModelRunner(
  await loadModel({
    model,
    modelsDir: base.modelsDir,
    gpu: base.GPU,
    threads: base.THREADS,
    contextSize: 2048,
    sequences: S,
    logger: createLogger({ level: "silent" }),
  }),
  { ignoreEndOfGeneration: true },
);
const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
process.stdout.write(`${N} conversations at once, ${S} sequences, ${TOKENS} tokens each, final edit ${DELIVERY_MS} ms\n`);
for (const jobs of [0, JOBS]) {
  const r = await run(runner, jobs);
  process.stdout.write(
    `WORKER_DELIVERY_JOBS=${jobs}: first text median ${f(percentile(r.first, 50))}, worst ${f(Math.max(...r.first))}; ` +
      `all delivered ${f(r.done)}; sequences busy ${(r.busy * 100).toFixed(0)}%\n`,
  );
}
await runner.close();
