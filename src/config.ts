/**
 * The one module that reads the environment. Parsed once at start; a bad value fails with a
 * message that names the variable. Everything else receives a `Config` object.
 */
import path from "node:path";
import { z } from "zod";
import { physicalCores } from "./config/configValues.ts";
import { abuse, conversations, core, engine, entryPoints, model, operations, settingsAndContext } from "./config/coreVariables.ts";
import { images } from "./config/imageVariables.ts";
import { discord, slack } from "./config/platformVariables.ts";
import { ConfigError } from "./errors.ts";
import { checkImageSettings, imageQueueSettings } from "./images/imageQueueSettings.ts";

export { bool, DEFAULT_MODEL, int, list, num, physicalCores } from "./config/configValues.ts";

/** The variables by group, in the order docs/configuration.md shows them. */
export const configGroups = {
  Core: core,
  Model: model,
  Engine: engine,
  "Conversations and delivery": conversations,
  "Settings and context": settingsAndContext,
  "Entry points": entryPoints,
  "Abuse and overload": abuse,
  Operations: operations,
  Discord: discord,
  Slack: slack,
  Images: images,
  "Image queue and workers": imageQueueSettings,
};

/** Every variable the bot reads, with its default. */
export const configShape = {
  ...core,
  ...model,
  ...engine,
  ...conversations,
  ...settingsAndContext,
  ...entryPoints,
  ...abuse,
  ...operations,
  ...discord,
  ...slack,
  ...images,
  ...imageQueueSettings,
};

export const configSchema = z.object(configShape);
export type RawConfig = z.infer<typeof configSchema>;

/** Names of variables holding secrets: never logged. */
export const SECRET_VARIABLES = [
  "DISCORD_TOKEN",
  "SLACK_BOT_TOKEN",
  "SLACK_APP_TOKEN",
  "SLACK_SIGNING_SECRET",
  "OPENAI_API_KEY",
  "IMAGE_API_KEY",
] as const;

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
  checkImageSettings(raw);
  if (raw.ENGINE === "openai" && raw.OPENAI_BASE_URL === undefined)
    throw new ConfigError("OPENAI_BASE_URL", "required when ENGINE=openai (e.g. http://127.0.0.1:8080/v1 for llama-server)");
  return {
    ...raw,
    THREADS: raw.THREADS ?? physicalCores(),
    LOG_PRETTY: raw.LOG_PRETTY ?? (process.stdout.isTTY === true && env.CI !== "true"),
    modelsDir: path.resolve(cwd, raw.MODELS_DIR),
    localRedisDir: path.resolve(cwd, raw.LOCAL_REDIS_DIR),
  };
}
