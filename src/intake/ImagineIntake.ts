/**
 * The intake of /imagine, for every surface: the same steps as a text message (Intake: claim,
 * admit, check, placeholder, queue, settle — with the platform's own callbacks) and the same
 * guarantees (dedupe, per-user rate limit, inbox cap, place in line), through the image lane: its
 * own inboxes and BullMQ queue (src/keys.ts ImageKeys, src/queue/imageQueue.ts), so a picture
 * never waits behind a conversation's text replies. The check step validates every option
 * (src/images/imagineOptions.ts) and refuses at once when no image engine is configured; the
 * queued request carries the checked options, the seed included, as an ImagineRequest.
 *
 * Regenerate makes the picture of an earlier request again with a new seed (a new request, with a
 * placeholder of its own).
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config.ts";
import { ImageOptionRejectedError } from "../errors.ts";
import { formatImageSize } from "../images/imageSize.ts";
import { type ImagineInput, type ImagineLimits, type ImagineOptions, imagineLimits, validateImagine } from "../images/imagineOptions.ts";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE, IMAGINE_TEXT } from "../images/imagineText.ts";
import { ImageKeys, type Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import { Ingestor, type IngestRefusal } from "../queue/Ingestor.ts";
import type { ImagineRequest } from "../types.ts";
import { Intake, type IntakePlatform, type IntakeResult } from "./Intake.ts";

export interface ImagineIntakeOptions {
  limits: ImagineLimits;
  /** False (IMAGE_ENGINE=none): every /imagine is refused at once with how to set an engine up. */
  engineConfigured: boolean;
  /** Most /imagine requests one user may make per minute (0: no limit). */
  userImagesPerMinute: number;
  /** Most images waiting in one conversation. */
  maxPendingPerConversation: number;
  /** Draws random seeds (tests pin it). */
  drawSeed?: () => number;
}

export interface ImagineIntakeDeps {
  /** Producer connection: fails fast while Redis is down. */
  redis: Redis;
  /** The deployment's keys; the image lane's are derived from them. */
  keys: Keys;
  /** The image queue (createImageQueue). */
  queue: Queue;
  logger: Logger;
  /** Wraps the lane's ingestor (metrics count refusals by code). */
  instrument?: <I extends Pick<Ingestor, "ingest">>(ingestor: I) => I;
}

/** What one /imagine brings: the options as typed or picked, and the platform's claim key. */
export interface ImagineMessage {
  input: ImagineInput;
  /** Redis key claimed (SET NX) first: a replayed interaction or retried command is dropped. */
  claimKey?: string;
}

/** Regenerate: the request whose picture is made again with a new seed. */
export interface ImagineRegenerateMessage {
  requestId: string;
  claimKey?: string;
}

/** IntakeResult with the queued request as the ImagineRequest that was queued. */
export type ImagineIntakeResult =
  | { status: "queued" | "queued-unsignalled"; request: ImagineRequest; ahead: number; seq: number }
  | Exclude<IntakeResult, { status: "queued" | "queued-unsignalled" }>;

/** Options from the config. Local surfaces (the operator's terminal) have no per-user limit. */
export function imagineIntakeOptionsFrom(
  config: Pick<
    Config,
    | "IMAGE_ENGINE"
    | "IMAGE_SIZES"
    | "IMAGE_DEFAULT_SIZE"
    | "IMAGE_DEFAULT_STEPS"
    | "IMAGE_MAX_STEPS"
    | "IMAGE_MAX_PROMPT_CHARS"
    | "USER_IMAGES_PER_MINUTE"
    | "MAX_PENDING_PER_CONVERSATION"
  >,
  opts: { rateLimit: boolean },
): ImagineIntakeOptions {
  return {
    limits: imagineLimits(config),
    engineConfigured: config.IMAGE_ENGINE !== "none",
    userImagesPerMinute: opts.rateLimit ? config.USER_IMAGES_PER_MINUTE : 0,
    maxPendingPerConversation: config.MAX_PENDING_PER_CONVERSATION,
  };
}

/** The input that makes `previous` again with a new seed. */
export function regenerateInput(previous: ImagineOptions): ImagineInput {
  return {
    prompt: previous.prompt,
    negativePrompt: previous.negativePrompt,
    size: formatImageSize(previous),
    steps: previous.steps,
    seed: "random",
  };
}

const refusal = (code: IngestRefusal["code"], userMessage: string): IngestRefusal => ({ status: "refused", code, userMessage });

export class ImagineIntake {
  /** The image lane's keys. */
  readonly keys: ImageKeys;
  private readonly ingestor: Pick<Ingestor, "reserve" | "attach" | "release" | "stop">;

  constructor(
    private readonly deps: ImagineIntakeDeps,
    private readonly opts: ImagineIntakeOptions,
  ) {
    this.keys = new ImageKeys(deps.keys.prefix);
    const ingestor = new Ingestor(deps.redis, deps.queue, this.keys, {
      // validateImagine counts characters; the ingestor's own check counts UTF-16 units.
      maxInputChars: opts.limits.maxPromptChars * 2,
      maxPendingPerConversation: opts.maxPendingPerConversation,
      userMessagesPerMinute: opts.userImagesPerMinute,
    });
    this.ingestor = deps.instrument ? deps.instrument(ingestor) : ingestor;
  }

  /** Take one /imagine through the intake steps; the platform's callbacks as for a text message. */
  take(message: ImagineMessage, platform: IntakePlatform): Promise<ImagineIntakeResult> {
    return this.run(message.input, message.claimKey, platform);
  }

  /** Make the picture of `message.requestId` again with a new seed (refused when it is no longer stored). */
  async regenerate(message: ImagineRegenerateMessage, platform: IntakePlatform): Promise<ImagineIntakeResult> {
    const previous = await this.optionsOf(message.requestId).catch(() => undefined);
    return this.run(previous ? regenerateInput(previous) : undefined, message.claimKey, platform, message.requestId);
  }

  /** The checked options of a stored /imagine request (kept as long as requests are: 7 days). */
  async optionsOf(requestId: string): Promise<ImagineOptions | undefined> {
    const raw = await this.deps.redis.get(this.keys.request(requestId));
    const request = raw ? (JSON.parse(raw) as Partial<ImagineRequest>) : undefined;
    return request?.kind === "imagine" ? request.imagine : undefined;
  }

  /** Stop the picture being made for `requestId` (the last preview stays, marked stopped). */
  stop(requestId: string): Promise<void> {
    return this.ingestor.stop(requestId);
  }

  private async run(
    input: ImagineInput | undefined,
    claimKey: string | undefined,
    platform: IntakePlatform,
    regenerateOf?: string,
  ): Promise<ImagineIntakeResult> {
    let options: ImagineOptions | undefined;
    let queued: ImagineRequest | undefined;
    const check = (text: string): IngestRefusal | null => {
      if (!this.opts.engineConfigured) return refusal("IMAGE_ENGINE_NOT_CONFIGURED", IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE);
      if (!input) return refusal("IMAGE_OPTION_INVALID", IMAGINE_TEXT.regenerateGone);
      try {
        options = validateImagine({ ...input, prompt: text }, this.opts.limits, this.opts.drawSeed);
        return null;
      } catch (err) {
        // Its codes are EMPTY_MESSAGE, MESSAGE_TOO_LONG and IMAGE_OPTION_INVALID.
        if (err instanceof ImageOptionRejectedError) return refusal(err.code as IngestRefusal["code"], err.userMessage);
        throw err;
      }
    };
    // The place is reserved with the text as checked; the stored request (attach) carries the options.
    const reserve: Ingestor["reserve"] = async (reserved) => {
      const invalid = options ? null : check(reserved.text);
      if (invalid || !options) return invalid ?? refusal("IMAGE_OPTION_INVALID", IMAGINE_TEXT.malformed);
      return this.ingestor.reserve(reserved);
    };
    const attach: Ingestor["attach"] = async (request, place, seq) => {
      if (!options) throw new Error("attach before the options were checked");
      // The prompt as checked (normalized): what the engine gets and memory keeps.
      queued = { ...request, text: options.prompt, kind: "imagine", imagine: options };
      if (regenerateOf) queued.regenerateOf = regenerateOf;
      return this.ingestor.attach(queued, place, seq);
    };
    const release: Ingestor["release"] = (conversationKey, requestId) => this.ingestor.release(conversationKey, requestId);
    const logger = this.deps.logger.child({ lane: "images" });
    const intake = new Intake({ redis: this.deps.redis, keys: this.keys, ingestor: { check, reserve, attach, release }, logger });
    const result = await intake.take({ text: input?.prompt ?? "", ...(claimKey === undefined ? {} : { claimKey }) }, platform);
    if (result.status === "queued" || result.status === "queued-unsignalled") return { ...result, request: queued! };
    return result as Exclude<IntakeResult, { status: "queued" | "queued-unsignalled" }>;
  }
}
