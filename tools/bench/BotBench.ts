/**
 * The bot side of the benchmark: the full path an adapter's message takes — Ingestor → Redis
 * inbox and BullMQ job → ChatWorker (startWorker, sharing the benchmark's ModelRunner) → reply
 * sink — with timestamps at enqueue, at the start of evaluation on the worker, at the first
 * visible text and at the end.
 */
import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { type RunningWorker, startWorker } from "../../bin/wiring/startWorker.ts";
import type { Config } from "../../src/config.ts";
import { Keys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import { createChatQueue, Ingestor } from "../../src/queue/Ingestor.ts";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { RedisStreamSink } from "../../src/stream/RedisStreamSink.ts";
import type { ChatRequest } from "../../src/types.ts";
import type { GenerationEvent, WorkerResult } from "../../workers/ChatWorker.ts";
import type { Engine } from "../../workers/engine/Engine.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { CountingSink } from "./CountingSink.ts";
import { removePrefix } from "./removePrefix.ts";
import { nowMs, steadyDecodeRate } from "./stats.ts";
import type { BenchConversation } from "./workload.ts";

export interface BotReply {
  conversationKey: string;
  result: WorkerResult;
  enqueuedAt: number;
  /** The final edit reached the sink (what the user sees as the complete reply). */
  doneAt: number;
  /** Enqueue → first non-empty text handed to the sink (what the user sees first). */
  ttftMs: number;
  /** Enqueue → the prompt handed to the batch on the worker. */
  queueMs: number;
  /** How long `ingestor.ingest` took (part of queueMs). */
  ingestMs: number;
}

export interface BotRound {
  replies: BotReply[];
  wallMs: number;
  generated: number;
  tokensPerS: number;
  /** Decode rate while all replies generate (see steadyDecodeRate); NaN without token times. */
  decodeTokensPerS: number;
}

export class BotBench {
  private readonly waiters = new Map<string, { resolve: (e: GenerationEvent) => void; reject: (err: Error) => void }>();

  private constructor(
    readonly config: Config,
    readonly keys: Keys,
    readonly redis: Redis,
    private readonly queue: Queue,
    readonly ingestor: Ingestor,
    readonly sink: CountingSink,
    readonly worker: RunningWorker,
  ) {
    worker.worker.on("generation", (e) => {
      const w = this.waiters.get(e.request.requestId);
      if (!w) return;
      this.waiters.delete(e.request.requestId);
      w.resolve(e);
    });
    worker.worker.on("refused", (request, message) => {
      const w = this.waiters.get(request.requestId);
      if (!w) return;
      this.waiters.delete(request.requestId);
      w.reject(new Error(`the worker refused a benchmark message: ${message}`));
    });
  }

  /** With the benchmark's `runner` (the local engine on it) or a given `engine` (`--engine openai`). */
  static async start(opts: { config: Config; runner?: ModelRunner; engine?: Engine; logger: Logger }): Promise<BotBench> {
    const { config } = opts;
    const keys = new Keys(config.REDIS_PREFIX);
    const redis = createRedis(config.REDIS_URL, "worker");
    await connectRedis(redis, config.REDIS_URL);
    const queue = createChatQueue(redis, keys);
    const ingestor = new Ingestor(redis, queue, keys, {
      maxInputChars: config.MAX_INPUT_CHARS,
      maxPendingPerConversation: config.MAX_PENDING_PER_CONVERSATION,
    });
    const sink = new CountingSink(new RedisStreamSink(redis, keys));
    const worker = await startWorker({
      config,
      logger: opts.logger,
      runner: opts.runner,
      engine: opts.engine,
      sinks: { local: sink },
    });
    return new BotBench(config, keys, redis, queue, ingestor, sink, worker);
  }

  /** Store a conversation's history as the worker will load it. */
  async seed(conversation: BenchConversation): Promise<void> {
    const key = this.keys.turns(conversation.key);
    const multi = this.redis.multi().del(key);
    for (const turn of conversation.history) multi.rpush(key, JSON.stringify(turn));
    multi.expire(key, this.config.MEMORY_TTL_SECONDS);
    await multi.exec();
  }

  /** Enqueue `text` as the next message of `conversationKey`, as an adapter would, and wait for the reply. */
  async send(conversationKey: string, text: string, timeoutMs = 30 * 60_000): Promise<BotReply> {
    const messageId = randomUUID();
    const request: ChatRequest = {
      requestId: `bench-${messageId}`,
      conversationKey,
      author: { id: "bench", name: "bench" },
      text,
      receivedAt: Date.now(),
      reply: { platform: "local", channelId: conversationKey, messageId },
    };
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<GenerationEvent>((resolve, reject) => {
      this.waiters.set(request.requestId, { resolve, reject });
      timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    });
    const enqueuedAt = nowMs();
    try {
      const outcome = await this.ingestor.ingest(request);
      if (outcome.status === "refused") throw new Error(`the benchmark's message was refused: ${outcome.code}`);
      const ingestMs = nowMs() - enqueuedAt;
      const event = await done;
      const times = this.sink.times.get(messageId);
      const doneAt = times?.finalAt ?? nowMs();
      const firstTextAt = times?.firstTextAt ?? event.result.firstTokenAt;
      return {
        conversationKey,
        result: event.result,
        enqueuedAt,
        doneAt,
        ttftMs: firstTextAt - enqueuedAt,
        queueMs: (event.result.evaluationStartedAt ?? event.result.startedAt) - enqueuedAt,
        ingestMs,
      };
    } finally {
      clearTimeout(timer);
      this.waiters.delete(request.requestId);
    }
  }

  /**
   * Send one message to each conversation at once; tokens per second over the whole round (first
   * enqueue to the last reply's final edit). `tokenTimes`, filled by the runner's `onTokenGenerated`
   * (keyed by conversation), gives the decode rate.
   */
  async round(conversations: readonly BenchConversation[], tokenTimes?: Map<string, number[]>): Promise<BotRound> {
    for (const c of conversations) tokenTimes?.set(c.key, []);
    const replies = await Promise.all(conversations.map((c) => this.send(c.key, c.userText)));
    const start = Math.min(...replies.map((r) => r.enqueuedAt));
    const end = Math.max(...replies.map((r) => r.doneAt));
    const generated = replies.reduce((n, r) => n + r.result.generatedTokens, 0);
    const decodeTokensPerS = tokenTimes ? steadyDecodeRate(conversations.map((c) => tokenTimes.get(c.key) ?? [])) : NaN;
    return { replies, wallMs: end - start, generated, tokensPerS: (generated / (end - start)) * 1000, decodeTokensPerS };
  }

  /** Stop the worker and remove every key of this benchmark's prefix. */
  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
    try {
      await removePrefix(this.config.REDIS_URL, this.config.REDIS_PREFIX);
    } finally {
      this.redis.disconnect();
    }
  }
}
