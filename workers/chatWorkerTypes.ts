/** The ChatWorker's settings, dependencies and events, and the abort reason of a shutdown. */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Keys } from "../src/keys.ts";
import type { Logger } from "../src/logger.ts";
import type { CommitOutcome, JobLock } from "../src/queue/ConversationInbox.ts";
import type { SettingsStore } from "../src/settings/SettingsStore.ts";
import type { ChatRequest, ChatTurn, Platform, ReplySink, ReplyTarget } from "../src/types.ts";
import type { Engine, EngineResult } from "./engine/Engine.ts";
import type { GenerateResult } from "./inference/ModelRunner.ts";

/** The worker's own settings; what a reply is generated with (persona, sampling, history) comes per place from `ChatWorkerDeps.settings`. */
export interface ChatWorkerSettings {
  /** For failed jobs' commits and resets (a reply's own comes from its place's settings). */
  memoryTtlSeconds: number;
  /** Edit interval for platform replies. */
  streamIntervalMs: number;
  /** Edit interval for local surfaces. */
  localStreamIntervalMs: number;
  lockMs: number;
  /** How long a worker's announced route lives without a refresh (default ROUTE_TTL_MS; tests shorten it). */
  routeTtlMs?: number;
  /** How often abandoned inboxes and unanswered placeholders are looked for. */
  sweepIntervalMs?: number;
  /** Jobs taken beyond the sequences, so replies delivering their last edits do not hold a sequence (default 2). */
  deliveryJobs?: number;
  /** An open reply is checked by the sweep once this old (ms; default 60 s). */
  openStaleMs?: number;
}

export interface ChatWorkerDeps {
  /** For BullMQ's blocking commands (maxRetriesPerRequest: null). */
  bullConnection: Redis;
  /** For the worker's own commands. */
  redis: Redis;
  /** A connection for the stop channel subscription. */
  subscriber: Redis;
  queue: Queue;
  keys: Keys;
  /** What turns a conversation into text (the local model or a remote server); its `slots` size the sequence gate. */
  engine: Engine;
  /** The settings in force at a request's place, read for every reply. */
  settings: Pick<SettingsStore, "resolve">;
  sinks: Partial<Record<Platform, ReplySink>>;
  logger: Logger;
}

/**
 * A finished (or stopped) generation as the worker sees it: the engine's result; the local
 * engine's adds the runner's own fields (sequence slot, reused tokens, restored from disk…).
 */
export type WorkerResult = EngineResult & Partial<Omit<GenerateResult, keyof EngineResult>>;

export interface GenerationEvent {
  request: ChatRequest;
  /** The turns the model saw before the new message (after fitting). */
  history: ChatTurn[];
  result: WorkerResult;
  commit: CommitOutcome;
  targets: readonly ReplyTarget[];
}

/** The abort reason when the worker shuts down mid-reply: the job is retried elsewhere. */
export class ShutdownAbort extends Error {
  constructor() {
    super("worker shutting down");
    this.name = "ShutdownAbort";
  }
}

/** What finishing an answer needs from the reply's attempt (the streamer type is the caller's). */
export interface FinishContext<Streamer> {
  lock: JobLock | undefined;
  log: Logger;
  streamer: Streamer;
  deliver: (text: string, note: string | undefined) => Promise<boolean>;
  commit: (turns: ChatTurn[], dropOldest: number, replaceLastAssistant: boolean, epochSeen: string) => Promise<CommitOutcome>;
  /** The lock was lost: once this attempt's edits settled, show the decided answer again (workers/reshowDecided.ts). */
  reshow?: () => Promise<boolean>;
}

export const STOPPED_BEFORE_START = "Stopped before it started.";
/** Shown while a reply interrupted by a worker restart waits for another worker. */
export const INTERRUPTED_NOTE = "interrupted by a worker restart — resuming shortly…";

/**
 * Stalled jobs (their worker died) are looked for every lock/10 (0.5–5 s; 3 s by default), so a
 * takeover follows the lock's expiry within seconds, not up to another whole lock duration later.
 */
export function stalledIntervalFor(lockMs: number): number {
  return Math.min(lockMs, Math.max(500, Math.min(5000, Math.round(lockMs / 10))));
}
