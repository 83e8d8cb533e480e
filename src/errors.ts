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
  | "GGUF_WRITE_FAILED"
  // Operations (model:pull)
  | "MODEL_URI_INVALID"
  | "NETWORK_UNAVAILABLE"
  | "MODEL_DOWNLOAD_FAILED";

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
    code: "EMPTY_MESSAGE" | "MESSAGE_TOO_LONG" | "DUPLICATE_MESSAGE" | "RATE_LIMITED" | "QUEUE_FULL" | "ACCESS_DENIED" | "UNKNOWN_COMMAND",
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
