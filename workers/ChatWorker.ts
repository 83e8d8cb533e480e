/**
 * The worker: takes "conversation X has work" jobs, answers the oldest message in X's inbox with
 * the model, streams the text into the reply's placeholder through the platform's ReplySink,
 * commits the turns atomically after the final edit, and re-adds the job if X has more waiting.
 */

import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { type Job, type Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { LockLostError, QwenbotError } from "../src/errors.ts";
import { type Keys, QUEUE_NAME } from "../src/keys.ts";
import type { Logger } from "../src/logger.ts";
import { type CommitOutcome, ConversationMemory } from "../src/memory/ConversationMemory.ts";
import { jobOptionsFor } from "../src/queue/Ingestor.ts";
import { ReplyStreamer } from "../src/stream/ReplyStreamer.ts";
import type { ChatRequest, ChatTurn, Platform, ReplySink, ReplyTarget } from "../src/types.ts";
import type { GenerateResult, ModelRunner } from "./inference/ModelRunner.ts";

export interface ChatWorkerSettings {
  systemPrompt: string;
  maxNewTokens: number;
  temperature: number;
  topK: number;
  memoryTtlSeconds: number;
  /** Edit interval for platform replies. */
  streamIntervalMs: number;
  /** Edit interval for local surfaces. */
  localStreamIntervalMs: number;
  lockMs: number;
  /** How often abandoned inboxes are looked for. */
  sweepIntervalMs?: number;
}

export interface ChatWorkerDeps {
  /** For BullMQ's blocking commands (maxRetriesPerRequest: null). */
  bullConnection: Redis;
  /** For the worker's own commands. */
  redis: Redis;
  /** A connection for the stop channel subscription. */
  subscriber: Redis;
  queue: Queue;
  keys: Keys;
  runner: ModelRunner;
  sinks: Partial<Record<Platform, ReplySink>>;
  logger: Logger;
}

export interface GenerationEvent {
  request: ChatRequest;
  /** The turns the model saw before the new message (after fitting). */
  history: ChatTurn[];
  result: GenerateResult;
  commit: CommitOutcome;
  targets: readonly ReplyTarget[];
}

/** What the user sees when their reply could not be generated. */
const FAILURE_NOTE = "Sorry — something went wrong while answering. Please try again.";
/** Shown while a reply interrupted by a worker restart waits for another worker. */
const INTERRUPTED_NOTE = "interrupted by a worker restart — resuming shortly…";

/**
 * An answer whose final text was decided (written before the final edit). A retry after a crash
 * between the final edit and the commit delivers and commits this same answer instead of
 * generating a different one.
 */
interface DecidedAnswer {
  text: string;
  note?: string;
  turns: ChatTurn[];
  dropOldest: number;
  replaceLastAssistant: boolean;
  epoch: string;
}

/** Record the decided answer only while this worker still holds the job lock. */
const DECIDE = `
if ARGV[2] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], 'decided', ARGV[1])
return 1
`;

/** The abort reason when the worker shuts down mid-reply: the job is retried elsewhere. */
export class ShutdownAbort extends Error {
  constructor() {
    super("worker shutting down");
    this.name = "ShutdownAbort";
  }
}

export class ChatWorker extends EventEmitter<{
  generation: [GenerationEvent];
  refused: [ChatRequest, string];
  lockLost: [ChatRequest];
  failure: [code: string, err: unknown];
}> {
  readonly id = randomUUID().slice(0, 8);
  /** Replies this worker is generating right now (metrics, status). */
  get inFlight(): number {
    return this.active.size;
  }
  private worker: Worker | undefined;
  private readonly memory: ConversationMemory;
  private readonly active = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    private readonly deps: ChatWorkerDeps,
    private readonly settings: ChatWorkerSettings,
  ) {
    super();
    this.memory = new ConversationMemory(deps.redis, deps.keys, settings.memoryTtlSeconds);
    this.log = deps.logger.child({ worker: this.id });
  }

  async start(): Promise<void> {
    const { deps, settings } = this;
    await deps.subscriber.subscribe(deps.keys.stopChannel);
    deps.subscriber.on("message", (channel: string, requestId: string) => {
      if (channel === deps.keys.stopChannel) this.active.get(requestId)?.abort(new Error("stopped by user"));
    });
    this.worker = new Worker(QUEUE_NAME, (job, token) => this.process(job, token), {
      connection: deps.bullConnection,
      prefix: deps.keys.bull,
      concurrency: deps.runner.sequences,
      lockDuration: settings.lockMs,
      stalledInterval: settings.lockMs,
      maxStalledCount: 20,
    });
    this.worker.on("failed", (job, err) => {
      if (err instanceof ShutdownAbort || err.name === "ShutdownAbort") return;
      this.log.error({ err, jobId: job?.id, conversation: job?.data?.conversationKey, attempts: job?.attemptsMade }, "job failed");
      this.emit("failure", err instanceof QwenbotError ? err.code : "JOB_FAILED", err);
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) void this.failForGood(job.data.conversationKey);
    });
    this.worker.on("error", (err) => this.log.error({ err }, "worker error"));
    await this.worker.waitUntilReady();
    const sweepMs = settings.sweepIntervalMs ?? 30_000;
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.log.warn({ err }, "sweep failed")), sweepMs);
    this.sweeper.unref();
    this.log.info({ concurrency: deps.runner.sequences }, "worker ready");
  }

  /**
   * A job that failed every attempt: tell the user in the placeholder of the message at the head
   * of the inbox, take that message out so the conversation is not blocked, and go on.
   */
  private async failForGood(conv: string): Promise<void> {
    const { redis, keys, sinks, queue } = this.deps;
    try {
      const [requestId] = await redis.zrange(keys.inbox(conv), 0, 0);
      if (!requestId) return;
      const raw = await redis.get(keys.request(requestId));
      if (raw) {
        const request = JSON.parse(raw) as ChatRequest;
        const sink = sinks[request.reply.platform];
        await sink?.edit(request.reply, "", { final: true, note: FAILURE_NOTE }).catch(() => {});
      }
      await this.memory.commit({
        conversationKey: conv,
        requestId,
        epochSeen: "",
        lockKey: keys.reply(requestId),
        lockToken: "",
        turns: [],
        dropOldest: 0,
        replaceLastAssistant: false,
      });
      await redis.hset(keys.reply(requestId), "state", "failed");
      if ((await redis.zcard(keys.inbox(conv))) > 0) await queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
    } catch (err) {
      this.log.error({ err, conversation: conv }, "could not report a failed job to the user");
    }
  }

  /** Re-add work for conversations whose inbox has messages but no job (after crashes or lost signals). */
  async sweep(): Promise<number> {
    const { redis, keys, queue } = this.deps;
    let added = 0;
    for (const conv of await redis.smembers(keys.inboxes)) {
      const n = await redis.zcard(keys.inbox(conv));
      if (n === 0) {
        await redis.eval(
          "if redis.call('ZCARD', KEYS[1]) == 0 then return redis.call('SREM', KEYS[2], ARGV[1]) end return 0",
          2,
          keys.inbox(conv),
          keys.inboxes,
          conv,
        );
        continue;
      }
      await queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
      added++;
    }
    return added;
  }

  private async process(job: Job<{ conversationKey: string }>, token: string | undefined): Promise<void> {
    const { redis, keys, queue } = this.deps;
    const conv = job.data.conversationKey;
    const [requestId] = await redis.zrange(keys.inbox(conv), 0, 0);
    if (!requestId) return;
    const raw = await redis.get(keys.request(requestId));
    if (raw) {
      const request = JSON.parse(raw) as ChatRequest;
      const lockKey = `${keys.bull}:${QUEUE_NAME}:${job.id}:lock`;
      await this.answer(request, lockKey, token ?? "", job.id);
    } else {
      this.log.warn({ requestId, conversation: conv }, "request expired before it was answered; dropping it");
      await redis.zrem(keys.inbox(conv), requestId);
    }
    if ((await redis.zcard(keys.inbox(conv))) > 0) {
      // Before the job is re-added: nobody edits these placeholders yet, so no stale overwrite.
      await this.updatePlaces(conv);
      await queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
    }
  }

  /** Tell the messages still waiting in a conversation that the line moved. */
  private async updatePlaces(conv: string): Promise<void> {
    const { redis, keys, sinks } = this.deps;
    try {
      const waiting = await redis.zrange(keys.inbox(conv), 0, 19);
      for (let i = 0; i < waiting.length; i++) {
        const raw = await redis.get(keys.request(waiting[i]!));
        if (!raw) continue;
        const request = JSON.parse(raw) as ChatRequest;
        await sinks[request.reply.platform]?.queued?.(request.reply, i);
      }
    } catch (err) {
      this.log.debug({ err, conversation: conv }, "could not update places in line");
    }
  }

  private async answer(request: ChatRequest, lockKey: string, lockToken: string, jobId?: string): Promise<void> {
    const { redis, keys, runner, sinks } = this.deps;
    const { settings } = this;
    const log = this.log.child({
      conversation: request.conversationKey,
      requestId: request.requestId,
      platform: request.reply.platform,
      jobId,
    });
    const sink = sinks[request.reply.platform];
    const commit = (turns: ChatTurn[], dropOldest = 0, replaceLastAssistant = false, epochSeen = "") =>
      this.memory.commit({
        conversationKey: request.conversationKey,
        requestId: request.requestId,
        epochSeen,
        lockKey,
        lockToken,
        turns,
        dropOldest,
        replaceLastAssistant,
      });
    if (!sink) {
      log.error("no reply sink for this platform on this worker (is its token configured here?); dropping the message");
      await commit([]);
      return;
    }
    // One round trip: the commands are written back to back on the connection.
    const [record, { turns, epoch }, stoppedEarly] = await Promise.all([
      redis.hgetall(keys.reply(request.requestId)),
      this.memory.load(request.conversationKey),
      redis.exists(keys.stopped(request.requestId)),
      redis.hset(keys.reply(request.requestId), "state", "generating", "worker", this.id),
    ]);
    const targets: ReplyTarget[] = record.messages ? (JSON.parse(record.messages) as ReplyTarget[]) : [request.reply];
    const streamer = new ReplyStreamer(sink, targets, {
      intervalMs: request.reply.platform === "local" ? settings.localStreamIntervalMs : settings.streamIntervalMs,
      logger: log,
      guard: lockToken
        ? async () => {
            if ((await redis.get(lockKey)) !== lockToken) throw new LockLostError();
          }
        : undefined,
      onMessages: async (all) => {
        await redis.hset(keys.reply(request.requestId), "messages", JSON.stringify(all));
      },
      // Another worker owns this reply now: stop generating at once and free the sequence.
      onLockLost: () => {
        this.emit("lockLost", request);
        this.active.get(request.requestId)?.abort(new LockLostError());
      },
    });
    if (record.decided) {
      // A previous attempt decided this answer and crashed before committing it: deliver it again.
      const decided = JSON.parse(record.decided) as DecidedAnswer;
      await streamer.finish(decided.text, decided.note);
      const outcome = await commit(decided.turns, decided.dropOldest, decided.replaceLastAssistant, decided.epoch);
      log.info({ commit: outcome }, "re-delivered an answer decided before a crash");
      return;
    }
    const finishRefusal = async (message: string) => {
      await streamer.finish("", message);
      await commit([]);
      this.emit("refused", request, message);
    };

    let history = turns;
    let userText = request.text;
    if (request.regenerate) {
      const lastUser = turns.length >= 2 && turns.at(-1)!.role === "assistant" ? turns.at(-2) : undefined;
      if (lastUser?.role !== "user") return finishRefusal("There is no answer to regenerate in this conversation yet.");
      userText = lastUser.text;
      history = turns.slice(0, -2);
    }
    const fit = runner.fitHistory(settings.systemPrompt, history, userText, settings.maxNewTokens);
    if (fit.tooLong) {
      log.info({ userTokens: fit.userTokens, maxUserTokens: fit.maxUserTokens }, "message longer than the context budget; refused");
      return finishRefusal(
        `Your message is ${fit.userTokens} tokens long; the most I can read at once is ${Math.max(0, fit.maxUserTokens)} tokens. Please shorten it.`,
      );
    }
    if (stoppedEarly) return finishRefusal("Stopped before it started.");

    const abort = new AbortController();
    this.active.set(request.requestId, abort);
    let result: GenerateResult;
    try {
      result = await runner.generate({
        conversationKey: request.conversationKey,
        systemPrompt: settings.systemPrompt,
        history: fit.history,
        userText,
        maxTokens: settings.maxNewTokens,
        temperature: settings.temperature,
        topK: settings.topK,
        signal: abort.signal,
        onToken: (stream) => streamer.update(stream.text()),
      });
    } catch (err) {
      log.error({ err }, "generation failed");
      this.emit("failure", "GENERATION_FAILED", err);
      await streamer.finish("", FAILURE_NOTE).catch((e) => log.error({ err: e }, "could not deliver the failure note"));
      await commit([]);
      return;
    } finally {
      this.active.delete(request.requestId);
    }
    if (abort.signal.reason instanceof ShutdownAbort) {
      // Not committed: the job fails with ShutdownAbort and is retried by another worker, which
      // edits this same placeholder again.
      log.warn("reply interrupted by shutdown; requeued");
      await streamer.interim(result.text, INTERRUPTED_NOTE);
      throw abort.signal.reason;
    }
    if (streamer.ownershipLost) {
      log.warn("lock lost during generation; leaving the reply to the worker that owns it");
      return;
    }
    const notes: string[] = [];
    if (result.stopReason === "abort") notes.push("stopped");
    else if (result.stopReason === "maxTokens") notes.push(`reached the ${settings.maxNewTokens}-token limit`);
    if (fit.dropped > 0) notes.push("older messages of this conversation were left out to fit the model's memory");
    if (result.text.length === 0 && result.stopReason !== "abort") notes.push("the model gave an empty answer");
    const note = notes.length > 0 ? notes.join(" · ") : undefined;
    const newTurns: ChatTurn[] = [];
    if (!request.regenerate)
      newTurns.push({ role: "user", text: userText, name: request.author.name, tokens: fit.userTokens, at: request.receivedAt });
    newTurns.push({ role: "assistant", text: result.text, tokens: runner.turnTokens({ text: result.text }), at: Date.now() });
    const decided: DecidedAnswer = {
      text: result.text,
      note,
      turns: newTurns,
      dropOldest: fit.dropped,
      replaceLastAssistant: request.regenerate === true,
      epoch,
    };
    if ((await redis.eval(DECIDE, 2, lockKey, keys.reply(request.requestId), JSON.stringify(decided), lockToken)) !== 1) {
      log.warn("lock lost before the final edit; leaving the reply to the worker that owns it");
      return;
    }
    try {
      await streamer.finish(result.text, note);
    } catch (err) {
      if (err instanceof LockLostError) {
        log.warn("lock lost before the final edit; not committing");
        return;
      }
      throw err;
    }
    const outcome = await commit(newTurns, fit.dropped, request.regenerate === true, epoch);
    log.info(
      {
        tokens: result.generatedTokens,
        stopReason: result.stopReason,
        evaluatedInputTokens: result.evaluatedInputTokens,
        ttftMs: Math.round(result.ttftMs),
        totalMs: Math.round(result.totalMs),
        edits: streamer.edits,
        commit: outcome,
      },
      "reply done",
    );
    this.emit("generation", { request, history: fit.history, result, commit: outcome, targets: streamer.targets });
  }

  /**
   * Stop taking jobs and let running replies finish within `graceMs`; replies still running then
   * are stopped with a visible note and requeued for another worker (nothing is committed for them).
   */
  async close(graceMs = Infinity): Promise<void> {
    clearInterval(this.sweeper);
    const closing = this.worker?.close();
    let timer: NodeJS.Timeout | undefined;
    if (Number.isFinite(graceMs)) {
      timer = setTimeout(() => {
        if (this.active.size > 0) this.log.warn({ replies: this.active.size }, "shutdown grace period over: interrupting running replies");
        for (const c of this.active.values()) c.abort(new ShutdownAbort());
      }, graceMs);
    }
    await closing;
    clearTimeout(timer);
    await this.deps.subscriber.unsubscribe().catch(() => {});
  }
}
