/**
 * The worker: takes "conversation X has work" jobs, answers the oldest message in X's inbox with
 * the model, streams the text into the reply's placeholder through the platform's ReplySink,
 * commits the turns atomically after the final edit, and re-adds the job if X has more waiting.
 *
 * It takes more jobs than it has sequences (WORKER_DELIVERY_JOBS more): generation waits for a
 * free sequence (SequenceGate) and hands it back as soon as the model is done, while the reply's
 * last edits still go out through the platform's rate budget — delivery never holds the model.
 * One job per conversation at a time still orders each conversation's answers and commits.
 *
 * The model is behind the Engine seam (workers/engine): the local node-llama-cpp runner or a
 * remote OpenAI-compatible server; a retryable engine failure retries the job like a crash.
 */

import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { type Job, Worker } from "bullmq";
import { EngineError, LockLostError, QwenbotError, ReplyGoneError } from "../src/errors.ts";
import { QUEUE_NAME } from "../src/keys.ts";
import type { Logger } from "../src/logger.ts";
import { ConversationMemory } from "../src/memory/ConversationMemory.ts";
import { ConversationInbox, type JobLock } from "../src/queue/ConversationInbox.ts";
import { ConversationLease } from "../src/queue/ConversationLease.ts";
import { WorkerRoutes } from "../src/queue/WorkerRoutes.ts";
import { PlaceNotifier } from "../src/stream/PlaceNotifier.ts";
import { ReplyStreamer } from "../src/stream/ReplyStreamer.ts";
import type { ChatRequest, ChatTurn } from "../src/types.ts";
import {
  type ChatWorkerDeps,
  type ChatWorkerSettings,
  type GenerationEvent,
  INTERRUPTED_NOTE,
  ShutdownAbort,
  STOPPED_BEFORE_START,
  stalledIntervalFor,
  type WorkerResult,
} from "./chatWorkerTypes.ts";
import { closeWithGrace } from "./closeWithGrace.ts";
import { finishAnswer } from "./finishAnswer.ts";
import { OPEN_STALE_MS, ReplySweeper } from "./ReplySweeper.ts";
import { replyFailed, waitNote } from "./replyFailure.ts";
import { reshowDecided } from "./reshowDecided.ts";
import { type ConversationJobContext, runConversationJob } from "./runConversationJob.ts";
import { SequenceGate } from "./SequenceGate.ts";
import { userTurnFor } from "./userTurnFor.ts";
import { WorkerQueue } from "./WorkerQueue.ts";

export {
  type ChatWorkerDeps,
  type ChatWorkerSettings,
  type GenerationEvent,
  ShutdownAbort,
  type WorkerResult,
} from "./chatWorkerTypes.ts";

export class ChatWorker extends EventEmitter<{
  generation: [GenerationEvent];
  /** The reply's message was deleted on the platform: generation stopped, nothing posted or remembered. */
  gone: [ChatRequest, WorkerResult | undefined];
  refused: [ChatRequest, string];
  lockLost: [ChatRequest];
  failure: [code: string, err: unknown];
}> {
  readonly id = randomUUID().slice(0, 8);
  /** Replies this worker is generating right now (metrics, status). */
  get inFlight(): number {
    return this.gate.busy;
  }
  private worker: Worker | undefined;
  private readonly memory: ConversationMemory;
  private readonly inbox: ConversationInbox;
  private readonly active = new Map<string, AbortController>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** The engine's slots (the local model's sequences, or the streams kept open): generation takes one, delivery does not. */
  readonly gate: SequenceGate;
  /** Places in line shown to waiting messages (coalesced, through the rate budget). */
  readonly places: PlaceNotifier;
  readonly replies: ReplySweeper;
  private readonly routes: WorkerRoutes;
  /** This worker's own queue (local engine: follow-ups of the conversations it holds warm). */
  private own: WorkerQueue | undefined;
  private readonly jobContext: ConversationJobContext;

  constructor(
    private readonly deps: ChatWorkerDeps,
    private readonly settings: ChatWorkerSettings,
  ) {
    super();
    this.memory = new ConversationMemory(deps.redis, deps.keys, settings.memoryTtlSeconds);
    this.inbox = new ConversationInbox(deps.redis, deps.keys);
    this.log = deps.logger.child({ worker: this.id });
    this.gate = new SequenceGate(deps.engine.slots);
    this.routes = new WorkerRoutes(deps.redis, deps.keys, deps.queue);
    this.places = new PlaceNotifier(deps.sinks, {
      logger: this.log,
      // Still waiting at that place: queued (not started) and that far from the head.
      stillWaiting: async (request, place) => {
        const [state, rank] = await Promise.all([
          this.inbox.replyState(request.requestId),
          this.inbox.rank(request.conversationKey, request.requestId),
        ]);
        return state === "queued" && rank === place;
      },
      shown: (request, place) => this.inbox.notePlace(request.requestId, place),
    });
    this.replies = new ReplySweeper({ ...deps, logger: this.log, memoryTtlSeconds: settings.memoryTtlSeconds });
    this.jobContext = {
      inbox: this.inbox,
      lease: new ConversationLease(deps.redis, deps.keys),
      routes: this.routes,
      places: this.places,
      log: this.log,
      answer: async (request, lock, jobId) => {
        this.own?.claim(request.requestId); // counted busy from now until its generation ends
        try {
          await this.answer(request, lock, jobId);
        } finally {
          this.own?.unclaim(request.requestId);
        }
      },
      // A shared job this worker cannot start at once goes back for a worker that can (one announces room).
      elsewhere: async (queue) => queue === QUEUE_NAME && this.own?.free === 0 && this.routes.othersFree(this.id),
      // This process holds the conversation's tokens now: its follow-ups come here while it has room.
      answered: async (conv) => this.own?.remember(conv, settings.memoryTtlSeconds),
    };
  }

  async start(): Promise<void> {
    const { deps, settings } = this;
    await deps.subscriber.subscribe(deps.keys.stopChannel);
    deps.subscriber.on("message", (channel: string, requestId: string) => {
      if (channel === deps.keys.stopChannel) this.active.get(requestId)?.abort(new Error("stopped by user"));
    });
    const options = {
      concurrency: deps.engine.slots + (settings.deliveryJobs ?? 2),
      lockDuration: settings.lockMs,
      stalledInterval: stalledIntervalFor(settings.lockMs),
      maxStalledCount: 20,
    };
    this.worker = new Worker(QUEUE_NAME, (job, token) => runConversationJob(this.jobContext, job, token, QUEUE_NAME), {
      ...options,
      connection: deps.bullConnection,
      prefix: deps.keys.bull,
    });
    const failed = (job: Job | undefined, err: Error) => {
      if (err instanceof ShutdownAbort || err.name === "ShutdownAbort") return;
      if (err instanceof EngineError && err.retryable)
        // Already explained where it happened: one line per attempt, no stack.
        this.log.warn({ code: err.code, jobId: job?.id, attempts: job?.attemptsMade }, "job failed on the engine");
      else this.log.error({ err, jobId: job?.id, conversation: job?.data?.conversationKey, attempts: job?.attemptsMade }, "job failed");
      this.emit("failure", err instanceof QwenbotError ? err.code : "JOB_FAILED", err);
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) void this.replies.failForGood(job.data.conversationKey);
    };
    this.worker.on("failed", failed);
    this.worker.on("error", (err) => this.log.error({ err }, "worker error"));
    await this.worker.waitUntilReady();
    if (deps.engine.kind === "local") {
      // Warm tokens live in this process: follow-ups routed here skip their history (WorkerRoutes).
      const own = new WorkerQueue({ ...deps, routes: this.routes, logger: this.log }, this.id, deps.engine.slots, settings.routeTtlMs);
      this.own = own;
      await own.start((job, token) => runConversationJob(this.jobContext, job, token, own.name), options);
      own.bullWorker?.on("failed", failed);
    }
    const sweepMs = settings.sweepIntervalMs ?? 30_000;
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.log.warn({ err }, "sweep failed")), sweepMs);
    this.sweeper.unref();
    const { engine } = deps;
    this.log.info(
      { engine: engine.kind, model: engine.info.model, slots: engine.slots, jobs: engine.slots + (settings.deliveryJobs ?? 2) },
      "worker ready",
    );
  }

  /**
   * Re-add work for conversations whose inbox has messages but no job (after crashes or lost
   * signals), and finish the placeholders left without an answer. Returns the jobs added.
   */
  async sweep(): Promise<number> {
    const added = await this.replies.sweepInboxes();
    await this.replies.sweepOpen(this.settings.openStaleMs ?? OPEN_STALE_MS);
    return added;
  }

  private async answer(request: ChatRequest, lock: JobLock | undefined, jobId?: string): Promise<void> {
    const { engine, sinks } = this.deps;
    const { settings, inbox } = this;
    const { requestId } = request;
    const log = this.log.child({ conversation: request.conversationKey, requestId, platform: request.reply.platform, jobId });
    const sink = sinks[request.reply.platform];
    // Committed "done" (not fenced out): the placeholder shows its final text, so the reply is no
    // longer open. "failed" (its note could not be shown): the sweeper explains it later.
    let memoryTtlSeconds = settings.memoryTtlSeconds;
    const commit = async (
      turns: ChatTurn[],
      dropOldest = 0,
      replaceLastAssistant = false,
      epochSeen = "",
      state: "done" | "failed" | "refused" = "done",
    ) => {
      const outcome = await inbox.commit({
        state,
        conversationKey: request.conversationKey,
        requestId,
        epochSeen,
        lock,
        turns,
        dropOldest,
        replaceLastAssistant,
        memoryTtlSeconds,
      });
      if (outcome !== "LOCK_LOST" && state !== "failed") await this.replies.open.close(requestId);
      return outcome;
    };
    if (!sink) {
      log.error("no reply sink for this platform on this worker (is its token configured here?); dropping the message");
      await commit([]);
      return;
    }
    // One round trip: the commands are written back to back on the connection.
    const [started, record, { turns, epoch }, stoppedEarly, goneEarly, placeSettings] = await Promise.all([
      inbox.start(request.conversationKey, requestId, this.id),
      inbox.readReply(requestId),
      this.memory.load(request.conversationKey),
      inbox.isStopped(requestId),
      inbox.isGone(requestId),
      this.deps.settings.resolve(request.place),
    ]);
    const s = placeSettings.values;
    memoryTtlSeconds = s.memoryTtlSeconds;
    if (placeSettings.ignored.length > 0) log.warn({ ignored: placeSettings.ignored }, "stored settings ignored");
    if (started !== "started") {
      log.info({ start: started }, "not answering: the message left the line before it started (stopped while waiting)");
      return;
    }
    const gone = async (result?: WorkerResult) => {
      // A moderator removed the reply: nothing more is posted, and nothing of it is remembered.
      const outcome = await commit([]);
      log.info(
        { commit: outcome, tokens: result?.generatedTokens },
        "reply deleted on the platform: stopped; nothing posted or remembered",
      );
      this.emit("gone", request, result);
    };
    if (goneEarly) return gone();
    const intervalMs = request.reply.platform === "local" ? settings.localStreamIntervalMs : settings.streamIntervalMs;
    const streamer = new ReplyStreamer(sink, record.messages ?? [request.reply], {
      intervalMs,
      logger: log,
      guard: lock?.token
        ? async () => {
            if (!(await inbox.holdsLock(lock))) throw new LockLostError();
          }
        : undefined,
      onMessages: (all) => inbox.saveMessages(requestId, all),
      // Another worker owns this reply now: stop generating at once and free the sequence.
      onLockLost: () => {
        this.emit("lockLost", request);
        this.active.get(requestId)?.abort(new LockLostError());
      },
      onGone: () => this.active.get(requestId)?.abort(new ReplyGoneError()),
    });
    /** The final text; false when the reply's message turned out gone (handled). */
    const reshow = () => reshowDecided({ inbox, sink, log, intervalMs }, request, streamer);
    const deliver = async (text: string, note: string | undefined): Promise<boolean> => {
      try {
        await streamer.finish(text, note);
        return true;
      } catch (err) {
        if (!(err instanceof ReplyGoneError)) throw err;
        await gone();
        return false;
      }
    };
    const decided = record.decided;
    if (decided) {
      // A previous attempt decided this answer and crashed before committing it: deliver it again.
      if (!(await deliver(decided.text, decided.note))) return;
      const outcome = await commit(decided.turns, decided.dropOldest, decided.replaceLastAssistant, decided.epoch);
      log.info({ commit: outcome }, "re-delivered an answer decided before a crash");
      return;
    }
    // A refusal (the message cannot be answered as it is) is recorded as such: `npm run ask` exits 2 on it.
    const finishRefusal = async (message: string, refused = false) => {
      if (!(await deliver("", message))) return;
      await commit([], 0, false, "", refused ? "refused" : "done");
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
    let partialText = "";
    const failed = (err: unknown) =>
      replyFailed(err, {
        log,
        streamer,
        partialText,
        deliver,
        commitFailed: (state) => commit([], 0, false, "", state),
        failure: (code, e) => this.emit("failure", code, e),
      });
    const turn = userTurnFor(engine, userText, request.regenerate ? undefined : request.context, s);
    let fit: Awaited<ReturnType<typeof engine.fitHistory>>;
    try {
      fit = await engine.fitHistory(s.systemPrompt, history.slice(cut), turn.prompt, s.maxNewTokens);
    } catch (err) {
      return failed(err);
    }
    if (fit.tooLong) {
      log.info({ userTokens: fit.userTokens, maxUserTokens: fit.maxUserTokens }, "message longer than the context budget; refused");
      return finishRefusal(
        `Your message is ${fit.userTokens} tokens long; the most I can read at once is ${Math.max(0, fit.maxUserTokens)} tokens. Please shorten it.`,
        true,
      );
    }
    if (stoppedEarly) return finishRefusal(STOPPED_BEFORE_START);

    const abort = new AbortController();
    this.active.set(requestId, abort);
    let result: WorkerResult | undefined;
    try {
      // A free sequence first ("next in line" meanwhile); "Thinking…" where a place in line was shown.
      result = await this.gate.hold(
        abort.signal,
        async () => sink.queued?.(request.reply, 0),
        async (waited) => {
          if (waited || (record.place ?? 0) > 0) streamer.started();
          return engine.generate({
            conversationKey: request.conversationKey,
            systemPrompt: s.systemPrompt,
            history: fit.history,
            userText: turn.prompt,
            maxTokens: s.maxNewTokens,
            temperature: s.temperature,
            topK: s.topK,
            signal: abort.signal,
            onText: (text) => {
              partialText = text;
              streamer.update(text);
            },
            onWait: (wait) => streamer.waiting(waitNote(wait)),
          });
        },
      );
    } catch (err) {
      return failed(err);
    } finally {
      this.active.delete(requestId);
      this.own?.unclaim(requestId); // its last edits do not hold a sequence
    }
    const reason: unknown = abort.signal.reason;
    if (reason instanceof ShutdownAbort) {
      // Not committed: the job fails with ShutdownAbort and is retried by another worker, which
      // edits this same placeholder again.
      log.warn("reply interrupted by shutdown; requeued");
      await streamer.interim(result?.text ?? "", INTERRUPTED_NOTE);
      throw reason;
    }
    if (streamer.ownershipLost || reason instanceof LockLostError) {
      log.warn("lock lost during generation; leaving the reply to the worker that owns it");
      await reshow();
      return;
    }
    if (streamer.replyGone || reason instanceof ReplyGoneError || (abort.signal.aborted && (await inbox.isGone(requestId))))
      return gone(result);
    if (!result) return finishRefusal(STOPPED_BEFORE_START); // stopped while it waited for a sequence
    const finish = { inbox, engine, generated: (e: GenerationEvent) => this.emit("generation", e) };
    await finishAnswer(finish, request, result, { ...fit, cut, turn, maxNewTokens: s.maxNewTokens }, epoch, {
      lock,
      log,
      streamer,
      deliver,
      commit,
      reshow,
    });
  }

  /**
   * Stop taking jobs and let running replies finish within `graceMs`; replies still running then
   * are stopped with a visible note and requeued for another worker (nothing is committed for them).
   */
  async close(graceMs = Infinity): Promise<void> {
    clearInterval(this.sweeper);
    await this.own?.withdraw();
    await closeWithGrace([this.worker, this.own?.bullWorker], this.active, graceMs, this.log, "replies");
    await this.own?.handOver();
    await this.routes.close();
    await this.places.close();
    await this.deps.subscriber.unsubscribe().catch(() => {});
  }
}
