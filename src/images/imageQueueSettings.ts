/**
 * The settings of the image queue and of the processes that serve it: which roles a worker
 * process takes (text, images or both), how many images one worker makes at once, the per-user
 * limit on /imagine, and how often an image reply is updated. A group of src/config.ts (which
 * alone reads the environment), kept here so the configuration module stays one page; the checks
 * between image settings live here too.
 */
import { z } from "zod";
import type { RawConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";

/** What a worker process serves: chat replies with the model, /imagine jobs with the image engine. */
export const WORKER_ROLE_NAMES = ["text", "images"] as const;
export type WorkerRole = (typeof WORKER_ROLE_NAMES)[number];

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "must be an integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const imageQueueSettings = {
  WORKER_ROLES: z
    .string()
    .transform((v) => [...new Set(v.split(",").map((s) => s.trim().toLowerCase()))].filter(Boolean))
    .pipe(z.array(z.enum(WORKER_ROLE_NAMES)).min(1, "must name text, images or both"))
    .optional()
    .meta({
      description:
        "What `npm run worker` (and the worker inside `npm start`) serves: `text` (chat replies: loads the model), `images` (`/imagine` jobs, drawn by `IMAGE_ENGINE`; no model loaded), or `text,images`.",
      unset: "`text`, plus `images` when `IMAGE_ENGINE` is not `none`",
    }),
  IMAGE_CONCURRENCY: int(1, 64)
    .default(1)
    .describe(
      "Images one worker makes at once. The engines run one picture at a time, so more helps only with several engine replicas behind `IMAGE_API_URL`.",
    ),
  USER_IMAGES_PER_MINUTE: int(0, 10_000)
    .default(3)
    .describe("`/imagine` requests one platform user may make per minute (0: no limit); more are refused politely. Not the terminal."),
  IMAGE_UPDATE_INTERVAL_MS: int(250, 60_000)
    .default(2000)
    .describe(
      "Least time between two updates of an image reply on Discord and Slack (a new preview and its step); the terminal uses `LOCAL_STREAM_INTERVAL_MS`.",
    ),
};

/** The roles of a worker process: WORKER_ROLES, or text plus images when an image engine is configured. */
export function workerRoles(config: Pick<RawConfig, "WORKER_ROLES" | "IMAGE_ENGINE">): WorkerRole[] {
  if (config.WORKER_ROLES && config.WORKER_ROLES.length > 0) return [...config.WORKER_ROLES];
  return config.IMAGE_ENGINE === "none" ? ["text"] : ["text", "images"];
}

/** Image settings that must agree with each other (zod checks each variable alone). */
export function checkImageSettings(raw: RawConfig): void {
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
