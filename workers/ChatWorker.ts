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
import { ConversationMemory } from "../src/memory/ConversationMemory.ts";
import { type CommitOutcome, ConversationInbox, type DecidedAnswer, type JobLock } from "../src/queue/ConversationInbox.ts";
import { jobOptionsFor } from "../src/queue/Ingestor.ts";
import type { SettingsStore } from "../src/settings/SettingsStore.ts";
import { ReplyStreamer } from "../src/stream/ReplyStreamer.ts";
import type { ChatRequest, ChatTurn, Platform, ReplySink, ReplyTarget } from "../src/types.ts";
import type { GenerateResult, ModelRunner } from "./inference/ModelRunner.ts";
import { userTurnFor } from "./userTurnFor.ts";

/** The worker's own settings; what a reply is generated with (persona, sampling, history) comes per place from `ChatWorkerDeps.settings`. */
export interface ChatWorkerSettings {
  /** For failed jobs' commits and resets (a reply's own comes from its place's settings). */
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
  /** The settings in force at a request's place, read for every reply. */
  settings: Pick<SettingsStore, "resolve">;
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
  private readonly inbox: ConversationInbox;
  private readonly active = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    private readonly deps: ChatWorkerDeps,
    private readonly settings: ChatWorkerSettings,
  ) {
    super();
    this.memory = new ConversationMemory(deps.redis, deps.keys, settings.memoryTtlSeconds);
    this.inbox = new ConversationInbox(deps.redis, deps.keys);
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
      // Stalled jobs (their worker died) are looked for every lock/10 (0.5–5 s; 3 s by default), so a
      // takeover follows the lock's expiry within seconds, not up to another whole lock duration later.
      stalledInterval: Math.min(settings.lockMs, Math.max(500, Math.min(5000, Math.round(settings.lockMs / 10)))),
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
    const { sinks, queue } = this.deps;
    try {
      const head = await this.inbox.head(conv);
      if (!head) return;
      const { requestId, request } = head;
      if (request) {
        const sink = sinks[request.reply.platform];
        await sink?.edit(request.reply, "", { final: true, note: FAILURE_NOTE }).catch(() => {});
      }
      // Unfenced (the job is over) and with no epoch: nothing is remembered, the message leaves the inbox.
      await this.inbox.commit({
        conversationKey: conv,
        requestId,
        epochSeen: "",
        lock: undefined,
        turns: [],
        dropOldest: 0,
        replaceLastAssistant: false,
        memoryTtlSeconds: this.settings.memoryTtlSeconds,
        state: "failed",
      });
      if ((await this.inbox.pending(conv)) > 0) await queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
    } catch (err) {
      this.log.error({ err, conversation: conv }, "could not report a failed job to the user");
    }
  }

  /** Re-add work for conversations whose inbox has messages but no job (after crashes or lost signals). */
  async sweep(): Promise<number> {
    let added = 0;
    for (const conv of await this.inbox.conversations()) {
      if ((await this.inbox.pending(conv)) === 0) {
        await this.inbox.releaseIfEmpty(conv);
        continue;
      }
      await this.deps.queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
      added++;
    }
    return added;
  }

  private async process(job: Job<{ conversationKey: string }>, token: string | undefined): Promise<void> {
    const conv = job.data.conversationKey;
    const head = await this.inbox.head(conv);
    if (!head) return;
    if (head.request) {
      await this.answer(head.request, token && job.id ? { jobId: job.id, token } : undefined, job.id);
    } else {
      this.log.warn({ requestId: head.requestId, conversation: conv }, "request expired before it was answered; dropping it");
      await this.inbox.dropExpired(conv, head.requestId);
    }
    if ((await this.inbox.pending(conv)) > 0) {
      // Before the job is re-added: nobody edits these placeholders yet, so no stale overwrite.
      await this.updatePlaces(conv);
      await this.deps.queue.add("turn", { conversationKey: conv }, jobOptionsFor(conv));
    }
  }

  /** Tell the messages still waiting in a conversation that the line moved. */
  private async updatePlaces(conv: string): Promise<void> {
    try {
      for (const { place, request } of await this.inbox.waiting(conv, 20)) {
        await this.deps.sinks[request.reply.platform]?.queued?.(request.reply, place);
      }
    } catch (err) {
      this.log.debug({ err, conversation: conv }, "could not update places in line");
    }
  }

  private async answer(request: ChatRequest, lock: JobLock | undefined, jobId?: string): Promise<void> {
    const { runner, sinks } = this.deps;
    const { settings, inbox } = this;
    const log = this.log.child({
      conversation: request.conversationKey,
      requestId: request.requestId,
      platform: request.reply.platform,
      jobId,
    });
    const sink = sinks[request.reply.platform];
    let memoryTtlSeconds = settings.memoryTtlSeconds;
    const commit = (turns: ChatTurn[], dropOldest = 0, replaceLastAssistant = false, epochSeen = "", state?: "refused") =>
      inbox.commit({
        conversationKey: request.conversationKey,
        requestId: request.requestId,
        epochSeen,
        lock,
        turns,
        dropOldest,
        replaceLastAssistant,
        memoryTtlSeconds,
        state,
      });
    if (!sink) {
      log.error("no reply sink for this platform on this worker (is its token configured here?); dropping the message");
      await commit([]);
      return;
    }
    // One round trip: the commands are written back to back on the connection.
    const [record, { turns, epoch }, stoppedEarly, , placeSettings] = await Promise.all([
      inbox.readReply(request.requestId),
      this.memory.load(request.conversationKey),
      inbox.isStopped(request.requestId),
      inbox.markGenerating(request.requestId, this.id),
      this.deps.settings.resolve(request.place),
    ]);
    const s = placeSettings.values;
    memoryTtlSeconds = s.memoryTtlSeconds;
    if (placeSettings.ignored.length > 0) log.warn({ ignored: placeSettings.ignored }, "stored settings ignored");
    const streamer = new ReplyStreamer(sink, record.messages ?? [request.reply], {
      intervalMs: request.reply.platform === "local" ? settings.localStreamIntervalMs : settings.streamIntervalMs,
      logger: log,
      guard: lock?.token
        ? async () => {
            if (!(await inbox.holdsLock(lock))) throw new LockLostError();
          }
        : undefined,
      onMessages: (all) => inbox.saveMessages(request.requestId, all),
      // Another worker owns this reply now: stop generating at once and free the sequence.
      onLockLost: () => {
        this.emit("lockLost", request);
        this.active.get(request.requestId)?.abort(new LockLostError());
      },
    });
    const decided = record.decided;
    if (decided) {
      // A previous attempt decided this answer and crashed before committing it: deliver it again.
      await streamer.finish(decided.text, decided.note);
      const outcome = await commit(decided.turns, decided.dropOldest, decided.replaceLastAssistant, decided.epoch);
      log.info({ commit: outcome }, "re-delivered an answer decided before a crash");
      return;
    }
    // A refusal (the message cannot be answered as it is) is recorded as such: `npm run ask` exits 2 on it.
    const finishRefusal = async (message: string, refused = false) => {
      await streamer.finish("", message);
      await commit([], 0, false, "", refused ? "refused" : undefined);
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
    // The place's history length first (`cut` turns out), then what fits the context.
    const cut = Math.max(0, history.length - s.historyTurns);
    const turn = userTurnFor(runner, userText, request.regenerate ? undefined : request.context, s);
    const fit = runner.fitHistory(s.systemPrompt, history.slice(cut), turn.prompt, s.maxNewTokens);
    if (fit.tooLong) {
      log.info({ userTokens: fit.userTokens, maxUserTokens: fit.maxUserTokens }, "message longer than the context budget; refused");
      return finishRefusal(
        `Your message is ${fit.userTokens} tokens long; the most I can read at once is ${Math.max(0, fit.maxUserTokens)} tokens. Please shorten it.`,
        true,
      );
    }
    if (stoppedEarly) return finishRefusal("Stopped before it started.");

    const abort = new AbortController();
    this.active.set(request.requestId, abort);
    let result: GenerateResult;
    try {
      result = await runner.generate({
        conversationKey: request.conversationKey,
        systemPrompt: s.systemPrompt,
        history: fit.history,
        userText: turn.prompt,
        maxTokens: s.maxNewTokens,
        temperature: s.temperature,
        topK: s.topK,
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
    else if (result.stopReason === "maxTokens") notes.push(`reached the ${s.maxNewTokens}-token limit`);
    if (fit.dropped > 0) notes.push("older messages of this conversation were left out to fit the model's memory");
    if (turn.omitted) notes.push(turn.omitted);
    if (result.text.length === 0 && result.stopReason !== "abort") notes.push("the model gave an empty answer");
    const note = notes.length > 0 ? notes.join(" · ") : undefined;
    const newTurns: ChatTurn[] = [];
    if (!request.regenerate) {
      const tokens = turn.memory === turn.prompt ? fit.userTokens : runner.turnTokens({ text: turn.memory });
      newTurns.push({ role: "user", text: turn.memory, name: request.author.name, tokens, at: request.receivedAt });
    }
    newTurns.push({ role: "assistant", text: result.text, tokens: runner.turnTokens({ text: result.text }), at: Date.now() });
    const answer: DecidedAnswer = {
      text: result.text,
      note,
      turns: newTurns,
      dropOldest: cut + fit.dropped,
      replaceLastAssistant: request.regenerate === true,
      epoch,
    };
    if (!(await inbox.decide(request.requestId, lock, answer))) {
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
    const outcome = await commit(newTurns, cut + fit.dropped, request.regenerate === true, epoch);
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
