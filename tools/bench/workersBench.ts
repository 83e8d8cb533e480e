/**
 * `npm run bench -- --workers N`: does a follow-up stay warm when several worker processes share
 * the queue? The follow-up workload (bench.ts's follow-up phase, K conversations at once) runs
 * twice, each on a fresh Redis prefix: on 1 worker process, then on N — real processes started as
 * `npm run worker` starts them, the threads split between them. The bench process sends the
 * messages through the Ingestor as `local` requests and reads each reply from its Redis stream.
 *
 * Per conversation: the first turn's TTFT (cold: the whole history is evaluated), the follow-up's
 * (warm only on the worker that answered the first turn, which still holds the conversation), and
 * the ChatWorker that answered each (the reply state's `worker`). Reported per phase: p50s,
 * speedup = cold ÷ warm, follow-ups answered by the same worker; and speedup(N) ÷ speedup(1).
 */
import { randomUUID } from "node:crypto";
import { stat } from "node:fs/promises";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { createChatQueue, Ingestor } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { readReplyStream } from "../../src/stream/RedisStreamSink.ts";
import type { ChatRequest } from "../../src/types.ts";
import { loadModel } from "../../workers/inference/loadModel.ts";
import { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { removePrefix } from "./removePrefix.ts";
import { nowMs } from "./stats.ts";
import { WorkerFleet } from "./workerFleet.ts";
import { formatWorkersReport, type WorkersJson, type WorkersPhase, type WorkersTurn } from "./workersReport.ts";
import { type BenchConversation, makeConversation } from "./workload.ts";

export interface WorkersBenchArgs {
  modelPath: string;
  /** N ≥ 1: the second phase's worker processes. */
  workers: number;
  /** Conversations per phase (default 2 × N, at least 2). */
  conversations?: number;
  /** Threads in all (each of N workers gets max(1, floor(threads / N))). */
  threads: number;
  tokens: number;
  followupHistory: number;
  quick: boolean;
  /** Per message (default 10 min). */
  replyTimeoutMs?: number;
}

/** Threads per worker when `threads` are shared by `workers` processes. */
export function threadsPerWorker(threads: number, workers: number): number {
  return Math.max(1, Math.floor(threads / workers));
}

/** Sequences per worker: the phase's conversations shared out (every phase holds them all). */
export function sequencesPerWorker(conversations: number, workers: number): number {
  return Math.ceil(conversations / workers);
}

/** The default conversation count for N workers: 2 × N, at least 2. */
export function defaultConversations(workers: number): number {
  return Math.max(2, 2 * workers);
}

export const followupText = (i: number) => `Thanks. One more question, number ${i}: what comes next?`;

export async function runWorkersBench(
  args: WorkersBenchArgs,
  base: Config,
  logger: Logger,
  log: (line: string) => void,
): Promise<{ table: string; json: WorkersJson }> {
  const began = performance.now();
  const k = args.conversations ?? defaultConversations(args.workers);
  const contextSize = Math.ceil((args.followupHistory + 200 + 2 * args.tokens + 64) / 256) * 256;

  // The conversations, sized with the model's own tokenizer and template (then let go: the
  // workers need the cores).
  log(`sizing ${k} conversations of ~${args.followupHistory} history tokens with ${args.modelPath}`);
  const loaded = await loadModel({
    model: args.modelPath,
    modelsDir: base.modelsDir,
    gpu: "false",
    threads: 1,
    contextSize,
    sequences: 1,
    logger,
  });
  const renderer = new ModelRunner(loaded);
  let conversations: BenchConversation[];
  try {
    conversations = Array.from({ length: k }, (_, i) =>
      makeConversation({
        key: `local:bench-workers-${i}`,
        seed: 7000 + i,
        targetTokens: args.followupHistory,
        systemPrompt: base.SYSTEM_PROMPT,
        render: (s, h, u) => renderer.renderPrompt(s, h, u),
        countTurnTokens: (text) => renderer.turnTokens({ text }),
      }),
    );
  } finally {
    await renderer.close();
  }

  const phases: WorkersPhase[] = [];
  for (const workers of args.workers === 1 ? [1] : [1, args.workers]) {
    const threadsEach = workers === 1 ? args.threads : threadsPerWorker(args.threads, workers);
    const sequencesEach = workers === 1 ? k : sequencesPerWorker(k, workers);
    log(
      `${workers} worker process${workers === 1 ? "" : "es"}: THREADS=${threadsEach} and WORKER_CONCURRENCY=${sequencesEach} each, ` +
        `${k} conversations`,
    );
    phases.push(await runPhase({ base, conversations, workers, threadsEach, sequencesEach, contextSize, args, log }));
    const last = phases.at(-1)!;
    log(`  done: ${last.turns.filter((t) => t.coldWorker === t.warmWorker).length}/${k} follow-ups on their first turn's worker`);
  }

  return formatWorkersReport({
    modelPath: args.modelPath,
    modelBytes: (await stat(args.modelPath)).size,
    threads: args.threads,
    contextSize,
    tokens: args.tokens,
    quick: args.quick,
    phases,
    elapsedS: (performance.now() - began) / 1000,
  });
}

interface PhaseContext {
  base: Config;
  conversations: BenchConversation[];
  workers: number;
  threadsEach: number;
  sequencesEach: number;
  contextSize: number;
  args: WorkersBenchArgs;
  log: (line: string) => void;
}

async function runPhase(p: PhaseContext): Promise<WorkersPhase> {
  const { base } = p;
  const prefix = `qwenbot-bench-${randomUUID().slice(0, 8)}`;
  const keys = new Keys(prefix);
  const redis = createRedis(base.REDIS_URL, "worker");
  await connectRedis(redis, base.REDIS_URL);
  const queue = createChatQueue(redis, keys);
  const ingestor = new Ingestor(redis, queue, keys, {
    maxInputChars: Math.max(base.MAX_INPUT_CHARS, 100_000),
    maxPendingPerConversation: Math.max(base.MAX_PENDING_PER_CONVERSATION, 10),
  });
  let fleet: WorkerFleet | undefined;
  try {
    for (const c of p.conversations) {
      const key = keys.turns(c.key);
      const multi = redis.multi().del(key);
      for (const turn of c.history) multi.rpush(key, JSON.stringify(turn));
      await multi.expire(key, base.MEMORY_TTL_SECONDS).exec();
    }
    fleet = await WorkerFleet.start({
      count: p.workers,
      redis,
      keys,
      // This phase's own connection goes first, so nothing it was still sending lands after the cleanup.
      onInterrupt: () => {
        redis.disconnect();
        return removePrefix(base.REDIS_URL, prefix);
      },
      env: {
        REDIS_URL: base.REDIS_URL,
        REDIS_PREFIX: prefix,
        MODEL: p.args.modelPath,
        MODELS_DIR: base.MODELS_DIR,
        GPU: base.GPU,
        THREADS: String(p.threadsEach),
        WORKER_CONCURRENCY: String(p.sequencesEach),
        // No jobs beyond the sequences: a worker cannot take more first turns than it can hold,
        // so they spread over the workers.
        WORKER_DELIVERY_JOBS: "0",
        WORKER_ROLES: "text",
        CONTEXT_SIZE: String(p.contextSize),
        MAX_NEW_TOKENS: String(p.args.tokens),
        SYSTEM_PROMPT: base.SYSTEM_PROMPT,
        TEMPERATURE: String(base.TEMPERATURE),
        TOP_K: String(base.TOP_K),
        LOG_LEVEL: base.LOG_LEVEL === "info" || base.LOG_LEVEL === "debug" || base.LOG_LEVEL === "trace" ? "warn" : base.LOG_LEVEL,
      },
    });
    p.log(`  ready on REDIS_PREFIX ${prefix}: ${fleet.workers.map((w) => `${w.id} (pid ${w.pid})`).join(", ")}`);
    const send = (key: string, text: string) =>
      sendAndRead({ redis, keys, ingestor, url: base.REDIS_URL, conversationKey: key, text, timeoutMs: p.args.replyTimeoutMs ?? 600_000 });
    const cold = await Promise.all(p.conversations.map((c) => send(c.key, c.userText)));
    const warm = await Promise.all(p.conversations.map((c, i) => send(c.key, followupText(i))));
    const turns: WorkersTurn[] = p.conversations.map((c, i) => ({
      conversation: c.key,
      coldTtftMs: cold[i]!.ttftMs,
      warmTtftMs: warm[i]!.ttftMs,
      coldWorker: cold[i]!.worker,
      warmWorker: warm[i]!.worker,
      promptTokens: c.promptTokens.length,
    }));
    return { workers: p.workers, threadsPerWorker: p.threadsEach, sequencesPerWorker: p.sequencesEach, processes: fleet.workers, turns };
  } finally {
    await fleet?.stop();
    await queue.close();
    redis.disconnect();
    await removePrefix(base.REDIS_URL, prefix);
  }
}

/**
 * Enqueue `text` as an adapter's `local` message, read its reply stream until the final update
 * and wait for the reply state to settle. TTFT: enqueue → the first non-empty text read.
 */
async function sendAndRead(o: {
  redis: Redis;
  keys: Keys;
  ingestor: Ingestor;
  url: string;
  conversationKey: string;
  text: string;
  timeoutMs: number;
}): Promise<{ ttftMs: number; worker: string }> {
  const messageId = randomUUID();
  const request: ChatRequest = {
    requestId: `bench-${messageId}`,
    conversationKey: o.conversationKey,
    author: { id: "bench", name: "bench" },
    text: o.text,
    receivedAt: Date.now(),
    reply: { platform: "local", channelId: o.conversationKey, messageId },
  };
  // XREAD BLOCK holds its connection: one per reply read at once.
  const reader = createRedis(o.url, "worker");
  try {
    await connectRedis(reader, o.url);
    const enqueuedAt = nowMs();
    const outcome = await o.ingestor.ingest(request);
    if (outcome.status === "refused") throw new Error(`the benchmark's message was refused: ${outcome.code}`);
    let firstTextAt: number | undefined;
    let note: string | undefined;
    const signal = AbortSignal.timeout(o.timeoutMs);
    for await (const u of readReplyStream(reader, o.keys, messageId, { signal, blockMs: 500 })) {
      if (firstTextAt === undefined && u.text.length > 0) firstTextAt = nowMs();
      note = u.note;
    }
    const { state, worker } = await settled(o.redis, o.keys, request.requestId);
    if (state !== "done") throw new Error(`a reply of ${o.conversationKey} ended ${state ?? "unsettled"}${note ? `: ${note}` : ""}`);
    if (firstTextAt === undefined) throw new Error(`a reply of ${o.conversationKey} had no text`);
    if (!worker) throw new Error(`a reply of ${o.conversationKey} names no worker`);
    return { ttftMs: firstTextAt - enqueuedAt, worker };
  } finally {
    reader.disconnect();
  }
}

/** The reply state once done/failed/refused (the worker commits right after the final edit). */
async function settled(redis: Redis, keys: Keys, requestId: string, timeoutMs = 10_000): Promise<{ state?: string; worker?: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [state, worker] = await redis.hmget(keys.reply(requestId), "state", "worker");
    if (state === "done" || state === "failed" || state === "refused" || Date.now() > deadline)
      return { state: state ?? undefined, worker: worker ?? undefined };
    await new Promise((r) => setTimeout(r, 10));
  }
}
