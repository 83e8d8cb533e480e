/**
 * Structured logs (pino JSON; readable in a terminal with LOG_PRETTY). Secrets never reach a
 * line: every known secret value is scrubbed from the serialized output, whatever field or
 * error message carried it.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import { type Config, SECRET_VARIABLES } from "./config.ts";

export type { Logger };

/** Values that must never be logged: platform tokens and the Redis password. */
export function secretValues(config: Pick<Config, (typeof SECRET_VARIABLES)[number] | "REDIS_URL">): string[] {
  const values: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const v = config[name];
    if (typeof v === "string" && v.length >= 6) values.push(v);
    // SLACK_BOT_TOKEN may list several tokens (one per workspace): scrub each one too.
    if (typeof v === "string") for (const part of v.split(",")) if (part.trim().length >= 6) values.push(part.trim());
  }
  try {
    const url = new URL(config.REDIS_URL);
    if (url.password) values.push(decodeURIComponent(url.password), url.password);
  } catch {
    /* validated by config */
  }
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

function scrubSecrets(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("[redacted]");
  return out;
}

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  secrets?: readonly string[];
  /** Where lines go (default stdout; tests pass a capture stream). */
  destination?: DestinationStream;
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = opts.secrets ?? [];
  const options = {
    name: opts.name ?? "qwenbot",
    level: opts.level ?? "info",
    redact: { paths: ["token", "*.token", "authorization", "*.authorization", "headers.authorization"], censor: "[redacted]" },
    hooks: { streamWrite: (s: string) => scrubSecrets(s, secrets) },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (opts.pretty) {
    return pino({
      ...options,
      transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss", ignore: "pid,hostname,name" } },
    });
  }
  return pino(options);
}

/** The logger for a process, from its config. */
export function loggerFromConfig(config: Config, name?: string): Logger {
  return createLogger({ level: config.LOG_LEVEL, pretty: config.LOG_PRETTY, secrets: secretValues(config), name });
}
