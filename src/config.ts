/**
 * The one module that reads the environment. Parsed once at start; a bad value fails with a
 * message that names the variable. Everything else receives a `Config` object.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { imageSizeSetting as imageSize } from "./images/imageSize.ts";

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
  WORKER_DELIVERY_JOBS: int(0, 256)
    .default(2)
    .describe("Replies still delivering their last edits a worker holds beyond WORKER_CONCURRENCY (0: delivery keeps its sequence)."),
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
    .describe("Lock on a reply being generated; when a worker dies, another one takes the reply over after about this long."),
};

const entryPoints = {
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

const images = {
  IMAGE_ENGINE: z
    .enum(["none", "a1111", "openai"])
    .default("none")
    .describe(
      "The image engine behind `/imagine`: `none` (the command answers how to set one up), `a1111` (the AUTOMATIC1111 API, also served by Forge and SD.Next: previews while it works, Stop) or `openai` (`/v1/images/generations`, as served by stable-diffusion.cpp's `sd-server` and LocalAI: no previews).",
    ),
  IMAGE_API_URL: httpUrl.optional().meta({
    description:
      "Base URL of the image engine: the web UI's address for `a1111`; for `openai`, the API base (`/v1` is added when the URL has no path).",
    unset: "`http://127.0.0.1:7860` (a1111), `http://127.0.0.1:1234/v1` (openai: sd-server's default port)",
  }),
  IMAGE_API_KEY: z.string().trim().optional().meta({
    description:
      "Credentials for the image engine: `user:password` for AUTOMATIC1111's `--api-auth` (sent as HTTP Basic), anything else as a Bearer token.",
    unset: "none sent",
  }),
  IMAGE_MODEL: z.string().trim().optional().meta({
    description: "`openai` engine: the `model` field of each request (LocalAI: the model's name; sd-server ignores it).",
    unset: "not sent (the server's default model)",
  }),
  IMAGE_OPENAI_DIALECT: z
    .enum(["sdcpp", "localai", "plain"])
    .default("sdcpp")
    .describe(
      "`openai` engine: how the negative prompt, seed and steps travel, which the OpenAI API has no fields for: `sdcpp` (stable-diffusion.cpp's `<sd_cpp_extra_args>` block in the prompt), `localai` (`step` and `seed` fields, the negative prompt after a `|`), `plain` (not sent: the server's defaults apply and the seed is unknown).",
    ),
  IMAGE_SIZES: list
    .pipe(z.array(imageSize).min(1, "must list at least one size"))
    .default(["512x512", "512x768", "768x512", "768x768", "1024x1024"])
    .describe(
      "Comma-separated sizes users may ask for (`WIDTHxHEIGHT`, each side 64–2048 and a multiple of 8); others are refused with this list.",
    ),
  IMAGE_DEFAULT_SIZE: imageSize.default("512x512").describe("Size of an image when none is asked for; one of `IMAGE_SIZES`."),
  IMAGE_DEFAULT_STEPS: int(1, 150).default(20).describe("Denoising steps when none are asked for; at most `IMAGE_MAX_STEPS`."),
  IMAGE_MAX_STEPS: int(1, 150).default(50).describe("Most denoising steps a user may ask for (more take longer, rarely look better)."),
  IMAGE_SAMPLER: z.string().trim().optional().meta({
    description:
      "Sampler name sent with each request (AUTOMATIC1111: e.g. `Euler a`, `DPM++ 2M`; sd-server: e.g. `euler_a`, `dpm++2m`); the `localai` dialect has no field for it.",
    unset: "the engine's default",
  }),
  IMAGE_MAX_PROMPT_CHARS: int(1, 100_000)
    .default(1000)
    .describe("Longest prompt (and negative prompt) accepted, in characters; longer ones are refused."),
  IMAGE_TIMEOUT_MS: int(1000)
    .default(300_000)
    .describe("A generation still running after this long is stopped (the engine is interrupted where it can be) and the user told."),
  IMAGE_PREVIEW_INTERVAL_MS: int(100, 60_000)
    .default(1000)
    .describe("How often the engine's progress (step and preview image) is polled while it works (`a1111` only)."),
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
  Images: images,
};

/** Every variable the bot reads, with its default. */
export const configShape = {
  ...core,
  ...model,
  ...conversations,
  ...entryPoints,
  ...abuse,
  ...operations,
  ...discord,
  ...slack,
  ...images,
};

export const configSchema = z.object(configShape);
export type RawConfig = z.infer<typeof configSchema>;

/** Names of variables holding secrets: never logged. */
export const SECRET_VARIABLES = ["DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "IMAGE_API_KEY"] as const;

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
  checkImageDefaults(raw);
  return {
    ...raw,
    THREADS: raw.THREADS ?? physicalCores(),
    LOG_PRETTY: raw.LOG_PRETTY ?? (process.stdout.isTTY === true && env.CI !== "true"),
    modelsDir: path.resolve(cwd, raw.MODELS_DIR),
  };
}

/** Settings that must agree with each other (zod checks each variable alone). */
function checkImageDefaults(raw: RawConfig): void {
  if (!raw.IMAGE_SIZES.includes(raw.IMAGE_DEFAULT_SIZE))
    throw new ConfigError(
      "IMAGE_DEFAULT_SIZE",
      `must be one of IMAGE_SIZES (${raw.IMAGE_SIZES.join(", ")}); got "${raw.IMAGE_DEFAULT_SIZE}"`,
    );
  if (raw.IMAGE_DEFAULT_STEPS > raw.IMAGE_MAX_STEPS)
    throw new ConfigError(
      "IMAGE_DEFAULT_STEPS",
      `must be at most IMAGE_MAX_STEPS (${raw.IMAGE_MAX_STEPS}); got ${raw.IMAGE_DEFAULT_STEPS}`,
    );
}
