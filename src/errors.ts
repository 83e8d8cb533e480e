/** Every error the bot raises on purpose is a QwenbotError with a stable code. */

export type ErrorCode =
  | "CONFIG_INVALID"
  | "MODEL_NOT_FOUND"
  | "MODEL_INVALID"
  | "MODEL_LOAD_FAILED"
  | "REDIS_UNAVAILABLE"
  | "EMPTY_MESSAGE"
  | "MESSAGE_TOO_LONG"
  | "DUPLICATE_MESSAGE"
  | "RATE_LIMITED"
  | "QUEUE_FULL"
  | "ACCESS_DENIED"
  | "UNKNOWN_COMMAND"
  | "PLATFORM_RATE_LIMITED"
  | "PLATFORM_ERROR"
  | "GENERATION_FAILED"
  | "LOCK_LOST"
  | "REPLY_GONE"
  | "GGUF_WRITE_FAILED"
  // Operations (model:pull)
  | "MODEL_URI_INVALID"
  | "NETWORK_UNAVAILABLE"
  | "MODEL_DOWNLOAD_FAILED"
  // Images (/imagine)
  | "IMAGE_OPTION_INVALID"
  | "IMAGE_ENGINE_NOT_CONFIGURED"
  | "IMAGE_ENGINE_UNAVAILABLE"
  | "IMAGE_ENGINE_FAILED"
  | "IMAGE_TIMEOUT"
  | "IMAGE_INTERRUPTED"
  // Inference engines (workers/engine)
  | "ENGINE_UNAVAILABLE"
  | "ENGINE_MODEL_NOT_FOUND"
  | "ENGINE_AUTH_FAILED"
  | "ENGINE_BUSY"
  | "ENGINE_STREAM_FAILED"
  | "ENGINE_CONTEXT_EXCEEDED"
  | "ENGINE_REQUEST_REJECTED";

export class QwenbotError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class ConfigError extends QwenbotError {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super("CONFIG_INVALID", `${variable}: ${message}`);
  }
}

export class ModelError extends QwenbotError {}

export class RedisUnavailableError extends QwenbotError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("REDIS_UNAVAILABLE", message, options);
  }
}

/** Input that is refused before anything is queued; `userMessage` is safe to show the user. */
export class InputRejectedError extends QwenbotError {
  constructor(
    code:
      | "EMPTY_MESSAGE"
      | "MESSAGE_TOO_LONG"
      | "DUPLICATE_MESSAGE"
      | "RATE_LIMITED"
      | "QUEUE_FULL"
      | "ACCESS_DENIED"
      | "UNKNOWN_COMMAND"
      | "IMAGE_OPTION_INVALID"
      | "IMAGE_ENGINE_NOT_CONFIGURED",
    readonly userMessage: string,
  ) {
    super(code, userMessage);
  }
}

/** A platform answered 429: wait `retryAfterMs` before trying again. */
export class PlatformRateLimitedError extends QwenbotError {
  constructor(
    readonly retryAfterMs: number,
    message = `rate limited, retry after ${retryAfterMs} ms`,
  ) {
    super("PLATFORM_RATE_LIMITED", message);
  }
}

export class PlatformError extends QwenbotError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super("PLATFORM_ERROR", message, options);
  }
}

export class LockLostError extends QwenbotError {
  constructor(message = "the job lock was lost; another worker owns this reply") {
    super("LOCK_LOST", message);
  }
}

/**
 * The reply's message is gone from the platform (deleted by a moderator, its channel removed, the
 * bot locked out of it): the reply is stopped and nothing more is posted for it. Sinks throw it;
 * the ReplyStreamer and the worker treat it as a Stop that leaves nothing behind.
 */
export class ReplyGoneError extends QwenbotError {
  constructor(message = "the reply's message is gone") {
    super("REPLY_GONE", message);
  }
}

/** Which /imagine option a refusal is about. */
export type ImageOptionField = "prompt" | "negativePrompt" | "size" | "steps" | "seed";

/**
 * An /imagine request refused before anything is queued: an empty or too long prompt, an option
 * out of range. `userMessage` names the allowed range and is safe to show; `field` says which option.
 */
export class ImageOptionRejectedError extends InputRejectedError {
  constructor(
    code: "EMPTY_MESSAGE" | "MESSAGE_TOO_LONG" | "IMAGE_OPTION_INVALID",
    readonly field: ImageOptionField,
    userMessage: string,
  ) {
    super(code, userMessage);
  }
}

export type ImageEngineErrorCode =
  | "IMAGE_ENGINE_NOT_CONFIGURED"
  | "IMAGE_ENGINE_UNAVAILABLE"
  | "IMAGE_ENGINE_FAILED"
  | "IMAGE_TIMEOUT"
  | "IMAGE_INTERRUPTED";

/** What an engine handed back before it stopped: its partial image, when it sent one. */
export interface PartialImage {
  image: Buffer;
  mime: string;
}

/**
 * An image engine could not deliver. `retryable`: the same request may succeed later (engine down,
 * loading, overloaded); `status` is the engine's HTTP status when it answered; `partial` is the
 * image an interrupted or timed-out engine handed back (AUTOMATIC1111 returns the half-denoised one).
 */
export class ImageEngineError extends QwenbotError {
  declare readonly code: ImageEngineErrorCode;
  readonly retryable: boolean;
  readonly status?: number;
  readonly partial?: PartialImage;
  constructor(
    code: ImageEngineErrorCode,
    message: string,
    options: { retryable?: boolean; status?: number; partial?: PartialImage; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.retryable = options.retryable ?? false;
    if (options.status !== undefined) this.status = options.status;
    if (options.partial !== undefined) this.partial = options.partial;
  }
}

export type EngineErrorCode = Extract<ErrorCode, `ENGINE_${string}`>;

/** Codes a retry can cure (the engine comes back, the stream is asked for again). */
const RETRYABLE_ENGINE_CODES: readonly EngineErrorCode[] = ["ENGINE_UNAVAILABLE", "ENGINE_BUSY", "ENGINE_STREAM_FAILED"];

/**
 * An inference engine failed a request. `retryable`: the job may be retried by the same rules as
 * a worker crash (engine unreachable, busy past the wait limit, stream broken mid-reply); the
 * others (unknown model, rejected key, prompt over the context, other 4xx) fail the same way again.
 */
export class EngineError extends QwenbotError {
  readonly retryable: boolean;
  /** The HTTP status the engine answered, when it answered one. */
  readonly status: number | undefined;
  constructor(code: EngineErrorCode, message: string, options: { retryable?: boolean; status?: number; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.retryable = options.retryable ?? RETRYABLE_ENGINE_CODES.includes(code);
    this.status = options.status;
  }
}
