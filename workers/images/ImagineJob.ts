/**
 * One /imagine answered, from the head of its conversation's image inbox to the commit: run the
 * engine (retrying while it is unreachable), show the denoising in the placeholder (ImageReplyView),
 * then deliver the picture exactly once — its bytes stored and the answer decided under the job
 * lock before the final update, so a worker that dies between the final update and the commit
 * leaves the same picture for the retry to deliver — and commit the memory turns with the lock
 * fence, like a text reply. Stop keeps the last preview, marked stopped; every failure ends with a
 * clear note in the placeholder and the conversation moves on. A worker shutting down shows a
 * note and hands the request back (ShutdownAbort): the retry continues in the same placeholder,
 * with the same seed.
 */
import type { Redis } from "ioredis";
import { ImageEngineError, LockLostError, type PartialImage } from "../../src/errors.ts";
import type { ImageMime } from "../../src/images/imageBytes.ts";
import type { ImagineOptions } from "../../src/images/imagineOptions.ts";
import {
  altText,
  IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE,
  IMAGINE_TEXT,
  imageFilename,
  imagineAssistantTurn,
  imagineUserTurn,
  type MadeImage,
  resultCaption,
  shorten,
} from "../../src/images/imagineText.ts";
import type { ImageKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { CommitOutcome, ConversationInbox, DecidedAnswer, JobLock } from "../../src/queue/ConversationInbox.ts";
import type { ChatTurn, ImagineRequest, ReplyImage, ReplySink } from "../../src/types.ts";
import { ShutdownAbort } from "../ChatWorker.ts";
import type { GeneratedImage, ImageEngine, ImageProgress } from "./ImageEngine.ts";
import { ImageReplyView, type ImageSnapshot } from "./ImageReplyView.ts";

/** How a request ended: shown whole, shown stopped, refused or failed with a note, or not ours to finish. */
export type ImagineOutcome = "done" | "stopped" | "failed" | "refused" | "lockLost";

export interface ImagineJobResult {
  outcome: ImagineOutcome;
  /** The error code of a failure (IMAGE_TIMEOUT, IMAGE_ENGINE_UNAVAILABLE…). */
  code?: string;
  /** Time spent generating (engine calls and retry waits). */
  elapsedMs: number;
  commit?: CommitOutcome;
}

export interface ImagineJobSettings {
  /** Least time between two updates of the reply. */
  intervalMs: number;
  memoryTtlSeconds: number;
  /** IMAGE_TIMEOUT_MS, for the timeout note. */
  timeoutMs: number;
  /** Waits before trying an unreachable engine again; one retry per entry. */
  engineRetryDelaysMs: readonly number[];
  /** How long a decided picture is kept for a redelivery after a crash. */
  resultTtlSeconds: number;
}

export interface ImagineJobContext {
  redis: Redis;
  keys: ImageKeys;
  /** The image lane's inbox. */
  inbox: ConversationInbox;
  engine: ImageEngine;
  sink: ReplySink;
  settings: ImagineJobSettings;
  logger: Logger;
  lock: JobLock | undefined;
  workerId: string;
  /** Stop (a user's), LockLostError and ShutdownAbort arrive here. */
  abort: AbortController;
}

type Image = { bytes: Buffer; mime: ImageMime };

/** How often a platform reply shows the elapsed time while the engine reports no progress. */
const ELAPSED_TICK_MS = 5000;

export class ImagineJob {
  private view!: ImageReplyView;
  private started = 0;
  private lastStep: number | undefined;
  private lastPreview: Image | undefined;
  private phase: "waiting" | "progress" | "retrying" = "waiting";
  /** The memory's reset epoch when the job started: the commit writes no turns after a reset since. */
  private epoch = "0";
  private readonly log: Logger;

  constructor(
    private readonly request: ImagineRequest,
    private readonly ctx: ImagineJobContext,
  ) {
    this.log = ctx.logger;
  }

  private get id(): string {
    return this.request.requestId;
  }

  private get opts(): ImagineOptions {
    return this.request.imagine;
  }

  private get elapsedMs(): number {
    return this.started === 0 ? 0 : Date.now() - this.started;
  }

  async run(): Promise<ImagineJobResult> {
    const { inbox, redis, keys, lock, settings } = this.ctx;
    const [started, record, epoch, stoppedEarly] = await Promise.all([
      inbox.start(this.request.conversationKey, this.id, this.ctx.workerId),
      inbox.readReply(this.id),
      redis.get(keys.epoch(this.request.conversationKey)),
      inbox.isStopped(this.id),
    ]);
    // Stopped while it waited (taken out of the line), or its place is still being given a placeholder.
    if (started !== "started") return { outcome: "stopped", elapsedMs: 0 };
    this.epoch = epoch ?? "0";
    this.view = new ImageReplyView(this.ctx.sink, record.messages?.[0] ?? this.request.reply, {
      intervalMs: settings.intervalMs,
      logger: this.log,
      guard: lock?.token
        ? async () => {
            if (!(await inbox.holdsLock(lock))) throw new LockLostError();
          }
        : undefined,
      onTarget: (target) => inbox.saveMessages(this.id, [target]),
      onLockLost: () => this.ctx.abort.abort(new LockLostError()),
    });
    if (record.decided) {
      const again = await this.redeliver(record.decided);
      if (again) return again;
    }
    const opts = this.request.imagine;
    if (this.request.kind !== "imagine" || typeof opts?.prompt !== "string") return this.endWithNote(IMAGINE_TEXT.malformed, "refused");
    if (stoppedEarly) return this.endWithNote(IMAGINE_TEXT.stoppedEarly, "stopped", "done");
    this.started = Date.now();
    this.view.offer({ kind: "text", text: IMAGINE_TEXT.working(0) });
    // The elapsed time until the engine reports progress (all along with engines that report none):
    // every second on local surfaces, every few seconds on platforms (their edit budgets are shared).
    const tickMs = settings.intervalMs < 1000 ? 1000 : Math.max(settings.intervalMs, ELAPSED_TICK_MS);
    const ticker = setInterval(() => {
      if (this.phase === "waiting") this.view.offer({ kind: "text", text: IMAGINE_TEXT.working(this.elapsedMs / 1000) });
    }, tickMs);
    let image: GeneratedImage;
    try {
      image = await this.generate();
    } catch (err) {
      return await this.failed(err);
    } finally {
      clearInterval(ticker);
    }
    const made: MadeImage = { width: image.width, height: image.height, steps: image.steps, seed: image.seed };
    return this.deliver({ bytes: image.image, mime: image.mime }, made);
  }

  /** The engine, tried again while it is unreachable (down, loading its model), the user told each time. */
  private async generate(): Promise<GeneratedImage> {
    const { engine, settings, abort } = this.ctx;
    const opts = this.opts;
    const delays = settings.engineRetryDelaysMs;
    for (let attempt = 0; ; attempt++) {
      try {
        this.phase = this.lastStep === undefined ? "waiting" : "progress";
        return await engine.generate({
          prompt: opts.prompt,
          negativePrompt: opts.negativePrompt,
          width: opts.width,
          height: opts.height,
          steps: opts.steps,
          seed: opts.seed,
          signal: abort.signal,
          previews: this.view.showsImages,
          onProgress: (p) => this.progress(p),
        });
      } catch (err) {
        const wait = delays[attempt];
        const unreachable = err instanceof ImageEngineError && err.code === "IMAGE_ENGINE_UNAVAILABLE" && err.retryable;
        if (!unreachable || wait === undefined || abort.signal.aborted) throw err;
        this.log.warn({ ...brief(err), attempt: attempt + 1, waitMs: wait }, "image engine unavailable; trying again");
        this.phase = "retrying";
        this.view.offer({ kind: "text", text: IMAGINE_TEXT.retrying(wait / 1000, attempt + 2, delays.length + 1) });
        await abortableSleep(wait, abort.signal);
        if (abort.signal.aborted) throw new ImageEngineError("IMAGE_INTERRUPTED", "stopped while waiting for the image engine");
      }
    }
  }

  private progress(p: ImageProgress): void {
    this.phase = "progress";
    this.lastStep = p.step;
    if (p.preview && this.view.showsImages) {
      const mime = p.previewMime ?? "image/png";
      this.lastPreview = { bytes: p.preview, mime };
      this.view.offer({ kind: "image", image: this.replyImage(this.lastPreview, "preview", IMAGINE_TEXT.step(p.step, p.steps)) });
    } else if (!this.lastPreview) {
      this.view.offer({ kind: "text", text: IMAGINE_TEXT.step(p.step, p.steps) });
    }
  }

  private replyImage(image: Image, kind: "result" | "preview", caption: string, stopped = false): ReplyImage {
    const n = kind === "result" ? this.opts.seed : this.lastStep;
    const out: ReplyImage = {
      bytes: image.bytes,
      mime: image.mime,
      filename: imageFilename(kind, image.mime, n),
      alt: altText(this.opts),
      caption,
      final: false,
    };
    if (stopped) out.stopped = true;
    return out;
  }

  /** Why the engine gave no picture, said in the placeholder; Stop keeps where it got to. */
  private async failed(err: unknown): Promise<ImagineJobResult> {
    const reason = this.ctx.abort.signal.reason;
    if (reason instanceof LockLostError || this.view.ownershipLost) {
      this.log.warn("lock lost during generation; leaving the reply to the worker that owns it");
      return { outcome: "lockLost", elapsedMs: this.elapsedMs };
    }
    const engineClosed = err instanceof ImageEngineError && err.code === "IMAGE_INTERRUPTED" && err.retryable;
    if (reason instanceof ShutdownAbort || engineClosed) {
      // Not committed: the job fails with ShutdownAbort and another worker redoes it in this placeholder.
      this.log.warn("image interrupted by shutdown; requeued");
      await this.view.interim(this.snapshotWithPreview(IMAGINE_TEXT.interrupted, false));
      throw reason instanceof ShutdownAbort ? reason : new ShutdownAbort();
    }
    if (!(err instanceof ImageEngineError)) {
      this.log.error({ err }, "image job failed");
      return this.endWithNote(IMAGINE_TEXT.somethingWrong, "failed", "failed", "UNEXPECTED");
    }
    const opts = this.opts;
    switch (err.code) {
      case "IMAGE_INTERRUPTED": {
        const partial: Image | undefined = err.partial ? toImage(err.partial) : this.lastPreview;
        const note = IMAGINE_TEXT.stopped(this.lastStep, opts.steps);
        if (!partial || !this.view.showsImages) return this.endWithNote(note, "stopped", "done");
        const made: MadeImage = { width: opts.width, height: opts.height, seed: opts.seed };
        return this.deliver(partial, made, { step: this.lastStep, steps: opts.steps });
      }
      case "IMAGE_TIMEOUT":
        return this.endWithNote(IMAGINE_TEXT.timedOut(this.ctx.settings.timeoutMs / 1000), "failed", "failed", err.code);
      case "IMAGE_ENGINE_UNAVAILABLE":
        this.log.warn(brief(err), "image engine unavailable; giving up");
        return this.endWithNote(IMAGINE_TEXT.unavailable, "failed", "failed", err.code);
      case "IMAGE_ENGINE_NOT_CONFIGURED":
        return this.endWithNote(IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE, "failed", "failed", err.code);
      default:
        this.log.warn(brief(err), "image engine failed");
        return this.endWithNote(IMAGINE_TEXT.failed, "failed", "failed", err.code);
    }
  }

  /** The last preview with `note` as its caption when one is showing, else the note alone. */
  private snapshotWithPreview(note: string, stopped: boolean): ImageSnapshot {
    if (this.lastPreview && this.view.imageShown) {
      const caption = `${shorten(this.opts.prompt, 300)}\n${note}`;
      return { kind: "image", image: this.replyImage(this.lastPreview, "preview", caption, stopped) };
    }
    return { kind: "text", text: "", note };
  }

  /** End with a note and no picture in memory; the message leaves the inbox. */
  private async endWithNote(
    note: string,
    outcome: ImagineOutcome,
    state: "done" | "failed" = "failed",
    code?: string,
  ): Promise<ImagineJobResult> {
    const snapshot = this.request.imagine ? this.snapshotWithPreview(note, true) : ({ kind: "text", text: "", note } as const);
    try {
      if (snapshot.kind === "image") await this.view.finishImage(snapshot.image, note);
      else await this.view.finishText(snapshot.text, snapshot.note);
    } catch (err) {
      if (err instanceof LockLostError) return { outcome: "lockLost", elapsedMs: this.elapsedMs };
      this.log.error({ err }, "could not deliver the note");
    }
    const commit = await this.commit([], "", state);
    return { outcome, elapsedMs: this.elapsedMs, commit, ...(code ? { code } : {}) };
  }

  /**
   * Show the picture (whole, or `stopped` where it got to) exactly once and remember it: bytes
   * stored and answer decided under the lock, final update, commit, bytes dropped.
   */
  private async deliver(image: Image, made: MadeImage, stopped?: { step?: number; steps: number }): Promise<ImagineJobResult> {
    const opts = this.opts;
    const note = stopped ? IMAGINE_TEXT.stopped(stopped.step, stopped.steps) : undefined;
    const caption = resultCaption(opts, made, note);
    const turns: ChatTurn[] = [
      { role: "user", text: imagineUserTurn(opts), name: this.request.author.name, at: this.request.receivedAt },
      { role: "assistant", text: imagineAssistantTurn(opts, made, stopped), at: Date.now() },
    ];
    const { redis, keys, inbox, lock, settings } = this.ctx;
    const reply = this.replyImage(image, stopped ? "preview" : "result", caption, stopped !== undefined);
    if (!stopped) reply.filename = imageFilename("result", image.mime, made.seed);
    const decided: DecidedAnswer = { text: caption, turns, dropOldest: 0, replaceLastAssistant: false, epoch: this.epoch };
    if (note) decided.note = note;
    if (this.view.showsImages) {
      const resultKey = keys.imageResult(this.id);
      await redis
        .multi()
        .hset(resultKey, { bytes: image.bytes, mime: image.mime, filename: reply.filename, alt: reply.alt, stopped: stopped ? "1" : "0" })
        .expire(resultKey, settings.resultTtlSeconds)
        .exec();
    }
    if (!(await inbox.decide(this.id, lock, decided))) {
      this.log.warn("lock lost before the final update; leaving the reply to the worker that owns it");
      return { outcome: "lockLost", elapsedMs: this.elapsedMs };
    }
    return this.finalUpdate(decided, this.view.showsImages ? reply : undefined, stopped ? "stopped" : "done");
  }

  /** A picture decided by an attempt that died before committing: the same one, delivered again. */
  private async redeliver(decided: DecidedAnswer): Promise<ImagineJobResult | undefined> {
    const h = await this.ctx.redis.hgetallBuffer(this.ctx.keys.imageResult(this.id));
    if (this.view.showsImages && !h.bytes) return undefined; // expired: make it again (same seed)
    const reply: ReplyImage | undefined = h.bytes
      ? {
          bytes: h.bytes,
          mime: (h.mime?.toString() ?? "image/png") as ImageMime,
          filename: h.filename?.toString() ?? "image.png",
          alt: h.alt?.toString() ?? "",
          caption: decided.text,
          final: true,
          ...(h.stopped?.toString() === "1" ? { stopped: true } : {}),
        }
      : undefined;
    this.log.info("re-delivering a picture decided before a crash");
    return this.finalUpdate(decided, reply, reply?.stopped ? "stopped" : "done");
  }

  private async finalUpdate(decided: DecidedAnswer, reply: ReplyImage | undefined, outcome: "done" | "stopped"): Promise<ImagineJobResult> {
    let shown: "shown" | "refused" | "text";
    try {
      if (reply) shown = await this.view.finishImage(reply, IMAGINE_TEXT.uploadRefused);
      else {
        await this.view.finishText(decided.text, IMAGINE_TEXT.noImagesHere);
        shown = "text";
      }
    } catch (err) {
      if (err instanceof LockLostError) {
        this.log.warn("lock lost before the final update; not committing");
        return { outcome: "lockLost", elapsedMs: this.elapsedMs };
      }
      throw err;
    }
    // Memory keeps the pictures the user saw (whole or stopped; not one a moderator deleted).
    const commit =
      shown === "shown" && !this.view.gone ? await this.commit(decided.turns, decided.epoch, "done") : await this.commit([], "", "failed");
    await this.ctx.redis.del(this.ctx.keys.imageResult(this.id));
    if (shown === "refused") return { outcome: "failed", code: "PLATFORM_ERROR", elapsedMs: this.elapsedMs, commit };
    // A surface that cannot show pictures: not an error, but nothing was seen.
    if (shown === "text") return { outcome: "failed", elapsedMs: this.elapsedMs, commit };
    return { outcome, elapsedMs: this.elapsedMs, commit };
  }

  private commit(turns: ChatTurn[], epochSeen: string, state: "done" | "failed"): Promise<CommitOutcome> {
    return this.ctx.inbox.commit({
      conversationKey: this.request.conversationKey,
      requestId: this.id,
      epochSeen,
      lock: this.ctx.lock,
      turns,
      dropOldest: 0,
      replaceLastAssistant: false,
      memoryTtlSeconds: this.ctx.settings.memoryTtlSeconds,
      state,
    });
  }
}

/** An engine error as one log line's fields (expected failures: no stack). */
function brief(err: ImageEngineError): { code: string; detail: string; status?: number } {
  return err.status === undefined ? { code: err.code, detail: err.message } : { code: err.code, detail: err.message, status: err.status };
}

function toImage(partial: PartialImage): Image {
  return { bytes: partial.image, mime: partial.mime as ImageMime };
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
