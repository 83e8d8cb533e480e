/**
 * The one module that reads the environment. Parsed once at start; a bad value fails with a
 * message that names the variable. Everything else receives a `Config` object.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.ts";

/** The tutorial's model: Qwen2-0.5B-Instruct, Q4_K_M, resolved by node-llama-cpp on first use. */
export const DEFAULT_MODEL = "hf:Qwen/Qwen2-0.5B-Instruct-GGUF/qwen2-0_5b-instruct-q4_k_m.gguf";

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ["1", "0", "true", "false", "yes", "no", "on", "off"].includes(v), "must be true or false")
  .transform((v) => ["1", "true", "yes", "on"].includes(v));
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "must be an integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const num = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, "must be a number")
    .transform(Number)
    .pipe(z.number().min(min).max(max));
const list = z.string().transform((v) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);
const redisUrl = z
  .string()
  .trim()
  .refine((v) => /^rediss?:\/\/.+/.test(v), "must be a redis:// or rediss:// URL");
const httpUrl = z
  .string()
  .trim()
  .refine((v) => /^https?:\/\/.+/.test(v), "must be an http:// or https:// URL");

/** Physical cores, as far as Node can tell (hyper-threads counted once where /proc says so). */
export function physicalCores(): number {
  const cpus = os.cpus();
  try {
    // Linux: count unique (physical id, core id) pairs.
    const info = fs.readFileSync("/proc/cpuinfo", "utf8");
    const pairs = new Set<string>();
    let phys = "0";
    for (const line of info.split("\n")) {
      const [k, v] = line.split(":").map((s) => s.trim());
      if (k === "physical id") phys = v ?? "0";
      if (k === "core id") pairs.add(`${phys}:${v}`);
    }
    if (pairs.size > 0) return Math.min(pairs.size, cpus.length);
  } catch {
    /* not Linux */
  }
  return Math.max(1, cpus.length);
}

/**
 * Every variable the bot reads, with its default. Keep in sync with README's table and
 * `.env.example` (a test checks).
 */
export const configShape = {
  // Core
  REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .default("qwenbot"),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  LOG_PRETTY: bool.optional(),
  // Model
  MODEL: z.string().trim().min(1, "must not be empty").default(DEFAULT_MODEL),
  MODELS_DIR: z.string().trim().min(1).default("models"),
  SYSTEM_PROMPT: z.string().default("You are a helpful assistant."),
  MAX_NEW_TOKENS: int(1, 32768).default(512),
  TEMPERATURE: num(0, 2).default(0.7),
  TOP_K: int(0, 1000).default(50),
  CONTEXT_SIZE: int(256, 1_048_576).optional(),
  THREADS: int(1, 1024).optional(),
  GPU: z.enum(["auto", "cuda", "vulkan", "metal", "false"]).default("auto"),
  WORKER_CONCURRENCY: int(1, 64).default(2),
  // Conversations and delivery
  MEMORY_TTL_SECONDS: int(60).default(7 * 24 * 3600),
  MAX_INPUT_CHARS: int(1, 1_000_000).default(8000),
  STREAM_INTERVAL_MS: int(50, 60_000).default(1000),
  LOCAL_STREAM_INTERVAL_MS: int(10, 60_000).default(100),
  JOB_LOCK_MS: int(1000).default(30000),
  // Entry points
  EXTERNAL_WORKERS: bool.default(false),
  // Abuse and overload (per platform user / per conversation)
  USER_MESSAGES_PER_MINUTE: int(0, 10_000).default(6),
  MAX_PENDING_PER_CONVERSATION: int(1, 1000).default(10),
  // Operations
  METRICS_PORT: int(0, 65535).optional(),
  METRICS_HOST: z.string().trim().min(1).default("127.0.0.1"),
  SHUTDOWN_GRACE_MS: int(0).default(20_000),
  // Discord (adapters/discord)
  DISCORD_TOKEN: z.string().trim().optional(),
  DISCORD_API_URL: httpUrl.optional(),
  DISCORD_THREAD_PER_MENTION: bool.default(false),
  DISCORD_ALLOW_DMS: bool.default(true),
  DISCORD_ALLOWED_GUILDS: list.optional(),
  DISCORD_ALLOWED_CHANNELS: list.optional(),
  DISCORD_ALLOWED_ROLES: list.optional(),
  DISCORD_ALLOWED_USERS: list.optional(),
  DISCORD_COMMAND_GUILD: z.string().trim().optional(),
  /** Ask for the privileged Message Content intent (enable it in the Developer Portal first): needed only to read un-mentioned messages in bot-opened threads. */
  DISCORD_MESSAGE_CONTENT_INTENT: bool.default(false),
  // Slack (adapters/slack)
  /** One bot token (xoxb-…), or several comma-separated: one per workspace the app is installed in. */
  SLACK_BOT_TOKEN: z.string().trim().optional(),
  SLACK_APP_TOKEN: z.string().trim().optional(),
  SLACK_SIGNING_SECRET: z.string().trim().optional(),
  SLACK_PORT: int(0, 65535).default(3000),
  SLACK_API_URL: httpUrl.optional(),
  SLACK_THREAD_FOLLOWUPS: bool.default(true),
  SLACK_EDITS_PER_MINUTE: int(1, 1000).default(50),
} as const;

export const configSchema = z.object(configShape);
export type RawConfig = z.infer<typeof configSchema>;

/** Names of variables holding secrets: never logged. */
export const SECRET_VARIABLES = ["DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"] as const;

export interface Config extends Omit<RawConfig, "THREADS" | "LOG_PRETTY"> {
  THREADS: number;
  LOG_PRETTY: boolean;
  /** Absolute models directory. */
  modelsDir: string;
}

/**
 * Parse `env` (default: `process.env`). Empty strings count as unset. Throws ConfigError naming
 * the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configShape)) {
    const v = env[key];
    if (v !== undefined && v !== "") input[key] = v;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? "config");
    const shown = variable in input && !(SECRET_VARIABLES as readonly string[]).includes(variable) ? ` (got "${input[variable]}")` : "";
    throw new ConfigError(variable, `${issue.message}${shown}`);
  }
  const raw = parsed.data;
  return {
    ...raw,
    THREADS: raw.THREADS ?? physicalCores(),
    LOG_PRETTY: raw.LOG_PRETTY ?? (process.stdout.isTTY === true && env.CI !== "true"),
    modelsDir: path.resolve(cwd, raw.MODELS_DIR),
  };
}
