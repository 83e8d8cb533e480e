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

/*
 * Every variable the bot reads, in groups. Each variable's `.describe()` is its line in
 * docs/configuration.md, which is generated from these groups (`npm run docs:config`; a test fails
 * when it is stale); `unset` in `.meta()` says what applies when an optional variable is not set.
 * `.env.example` lists the same variables with their defaults (a test checks).
 */
const core = {
  REDIS_URL: redisUrl
    .default("redis://127.0.0.1:6379")
    .describe(
      "Redis connection URL (`redis://` or `rediss://`; a password goes in the URL: `redis://:secret@host:6379`). Every process of a deployment uses the same Redis.",
    ),
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .default("qwenbot")
    .describe("Prefix of every Redis key, the BullMQ queue included. Deployments that share one Redis use different prefixes."),
  LOG_LEVEL: z
    .enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
    .default("info")
    .describe("`trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`."),
  LOG_PRETTY: bool.optional().meta({
    description: "`true`: colored, human-readable lines; `false`: one JSON object per line (pino).",
    unset: "pretty on a terminal (unless `CI=true`), JSON otherwise",
  }),
};

const model = {
  MODEL: z
    .string()
    .trim()
    .min(1, "must not be empty")
    .default(DEFAULT_MODEL)
    .describe(
      "The GGUF model: a Hugging Face URI (`hf:owner/repo/file.gguf`), an `https://` URL, or a local path. Remote models are downloaded into `MODELS_DIR` on first use, or ahead of time with `npm run model:pull`.",
    ),
  HF_ENDPOINT: httpUrl.optional().meta({
    description:
      "Where `hf:` model URIs are downloaded from: a Hugging Face mirror or proxy (`https://hf-mirror.example/`). Before a download, one quick request checks the host answers, so a machine without network fails within seconds instead of retrying for minutes.",
    unset: "`https://huggingface.co/`",
  }),
  MODELS_DIR: z
    .string()
    .trim()
    .min(1)
    .default("models")
    .describe("Where downloaded models are kept (relative to the working directory; `/app/models`, a volume, in the containers)."),
  SYSTEM_PROMPT: z.string().default("You are a helpful assistant.").describe("The system message every conversation starts with."),
  MAX_NEW_TOKENS: int(1, 32768).default(512).describe("Most tokens in one reply; a reply cut there says so."),
  TEMPERATURE: num(0, 2).default(0.7).describe("Sampling temperature, 0–2 (0: always the most likely token)."),
  TOP_K: int(0, 1000).default(50).describe("Sample among the k most likely tokens (0: no limit)."),
  CONTEXT_SIZE: int(256, 1_048_576).optional().meta({
    description:
      "Tokens one conversation can use at a time (history, new message and reply), at most the model's training context. Older turns that do not fit are left out, and the reply says so.",
    unset: "4096, at most the model's training context",
  }),
  THREADS: int(1, 1024).optional().meta({
    description: "CPU threads for inference (matters on CPU; more threads than physical cores is much slower).",
    unset: "the physical CPU cores",
  }),
  GPU: z
    .enum(["auto", "cuda", "vulkan", "metal", "false"])
    .default("auto")
    .describe(
      "Compute backend: `auto` (CUDA, Vulkan or Metal when available, else CPU), `cuda`, `vulkan`, `metal`, or `false` (CPU only).",
    ),
  WORKER_CONCURRENCY: int(1, 64)
    .default(2)
    .describe("Replies one worker generates at once: sequences of its context, batched together (GPU memory grows with it)."),
};

const conversations = {
  MEMORY_TTL_SECONDS: int(60)
    .default(7 * 24 * 3600)
    .describe("A conversation is forgotten this long after its last message (default 7 days)."),
  MAX_INPUT_CHARS: int(1, 1_000_000)
    .default(8000)
    .describe("Longest message accepted, in characters; longer ones are refused with an explanation."),
  STREAM_INTERVAL_MS: int(50, 60_000).default(1000).describe("Least time between two edits of one reply message on Discord and Slack."),
  LOCAL_STREAM_INTERVAL_MS: int(10, 60_000).default(100).describe("Least time between two updates of a reply in the terminal."),
  JOB_LOCK_MS: int(1000)
    .default(30000)
    .describe(
      "Lock on a reply being generated; when a worker dies, another one takes the reply over after at most this long plus a tenth of it (stalled replies are looked for every `JOB_LOCK_MS`/10, 0.5–5 s).",
    ),
};

const entryPoints = {
  LOCAL_REDIS_DIR: z
    .string()
    .trim()
    .min(1)
    .default(".cache/redis")
    .describe(
      "`npm run chat` and `npm run ask` with nothing answering at a local `REDIS_URL` (127.0.0.1, localhost): they start a private `redis-server` there for as long as they run (when one is installed), with its data (append-only file) in this folder, relative to the working directory.",
    ),
  EXTERNAL_WORKERS: bool
    .default(false)
    .describe(
      "`true`: `npm start` runs only the platform adapters, and workers run as separate processes (`npm run worker`), as in docker compose; `npm run chat` and `npm run ask` then use those workers too (as with `--external`).",
    ),
};

const abuse = {
  USER_MESSAGES_PER_MINUTE: int(0, 10_000)
    .default(6)
    .describe("Messages one platform user may send per minute (0: no limit); more are refused politely. The terminal has no such limit."),
  MAX_PENDING_PER_CONVERSATION: int(1, 1000)
    .default(10)
    .describe("Messages that may wait for an answer in one conversation; more are refused."),
};

const operations = {
  METRICS_PORT: int(0, 65535).optional().meta({
    description: "Port of the operations server: `/healthz`, `/readyz` and `/metrics` (Prometheus). 9464 in docker compose.",
    unset: "off",
  }),
  METRICS_HOST: z
    .string()
    .trim()
    .min(1)
    .default("127.0.0.1")
    .describe("Address the operations server listens on (`0.0.0.0` in containers, so Prometheus and healthchecks reach it)."),
  SHUTDOWN_GRACE_MS: int(0)
    .default(20_000)
    .describe(
      "On SIGTERM, running replies get this long to finish; then they are interrupted (the reply says so) and requeued for another worker.",
    ),
};

const discord = {
  DISCORD_TOKEN: z
    .string()
    .trim()
    .optional()
    .describe(
      "The bot token: enables the Discord adapter in `npm start`, and Discord replies on workers (which need only this token: they edit through the REST API).",
    ),
  DISCORD_API_URL: httpUrl.optional().meta({
    description:
      "Another REST API base URL, e.g. a REST proxy such as nirn-proxy (`http://proxy:8080/api`) or a test simulator; the gateway URL is then discovered through it.",
    unset: "Discord's (`https://discord.com/api`)",
  }),
  DISCORD_THREAD_PER_MENTION: bool
    .default(false)
    .describe("A mention in a channel opens a thread named after the question, and the conversation continues there."),
  DISCORD_ALLOW_DMS: bool
    .default(true)
    .describe("Answer direct messages. When off, a DM gets a short answer: mention me in a server channel instead."),
  DISCORD_ALLOWED_GUILDS: list.optional().meta({ description: "Comma-separated server (guild) ids the bot answers in.", unset: "all" }),
  DISCORD_ALLOWED_CHANNELS: list.optional().meta({
    description: "Comma-separated channel ids the bot answers in (a thread counts as its parent channel).",
    unset: "all",
  }),
  DISCORD_ALLOWED_ROLES: list.optional().meta({
    description:
      "Comma-separated role ids: when this or `DISCORD_ALLOWED_USERS` is set, only people holding one of these roles or listed there may use the bot (in DMs there are no roles: only the user list lets someone in).",
    unset: "everyone",
  }),
  DISCORD_ALLOWED_USERS: list.optional().meta({
    description: "Comma-separated user ids allowed to use the bot (see `DISCORD_ALLOWED_ROLES`).",
    unset: "everyone",
  }),
  DISCORD_COMMAND_GUILD: z.string().trim().optional().meta({
    description:
      "Register `/ask` and `/reset` in this server (guild) only: they appear at once, while global registration can take a while to show up everywhere.",
    unset: "global commands",
  }),
  DISCORD_MESSAGE_CONTENT_INTENT: bool
    .default(false)
    .describe(
      "Ask for the privileged Message Content intent (enable it in the Developer Portal first): needed only to read un-mentioned messages in threads the bot opened.",
    ),
};

const slack = {
  SLACK_BOT_TOKEN: z
    .string()
    .trim()
    .optional()
    .describe(
      "Bot User OAuth Token (`xoxb-…`), or several comma-separated, one per workspace the app is installed in: enables the Slack adapter in `npm start`, and workers need it to edit replies.",
    ),
  SLACK_APP_TOKEN: z
    .string()
    .trim()
    .optional()
    .describe(
      "App-level token (`xapp-…`, scope `connections:write`): Socket Mode, no public URL needed. Wins when both modes are configured.",
    ),
  SLACK_SIGNING_SECRET: z
    .string()
    .trim()
    .optional()
    .describe("Signing secret: HTTP mode (events at `/slack/events` on `SLACK_PORT`), used when `SLACK_APP_TOKEN` is not set."),
  SLACK_PORT: int(0, 65535).default(3000).describe("HTTP mode: the port of the `/slack/events` endpoint."),
  SLACK_API_URL: httpUrl.optional().meta({
    description:
      "Another Web API base URL (GovSlack: `https://slack-gov.com/api/`, a proxy, or a test simulator). Socket Mode's connection is opened through it too.",
    unset: "Slack's (`https://slack.com/api/`)",
  }),
  SLACK_THREAD_FOLLOWUPS: bool.default(true).describe("In threads the bot started, plain messages (no mention) continue the conversation."),
  SLACK_EDITS_PER_MINUTE: int(1, 1000)
    .default(50)
    .describe(
      "Message edits and posts per minute per workspace, shared by every live reply and every process there (Slack's `chat.update` is Tier 3, about 50 a minute).",
    ),
};

/** The variables by group, in the order docs/configuration.md shows them. */
export const configGroups = {
  Core: core,
  Model: model,
  "Conversations and delivery": conversations,
  "Entry points": entryPoints,
  "Abuse and overload": abuse,
  Operations: operations,
  Discord: discord,
  Slack: slack,
};

/** Every variable the bot reads, with its default. */
export const configShape = { ...core, ...model, ...conversations, ...entryPoints, ...abuse, ...operations, ...discord, ...slack };

export const configSchema = z.object(configShape);
export type RawConfig = z.infer<typeof configSchema>;

/** Names of variables holding secrets: never logged. */
export const SECRET_VARIABLES = ["DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"] as const;

export interface Config extends Omit<RawConfig, "THREADS" | "LOG_PRETTY"> {
  THREADS: number;
  LOG_PRETTY: boolean;
  /** Absolute models directory. */
  modelsDir: string;
  /** Absolute LOCAL_REDIS_DIR. */
  localRedisDir: string;
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
    localRedisDir: path.resolve(cwd, raw.LOCAL_REDIS_DIR),
  };
}
