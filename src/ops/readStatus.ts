/**
 * A deployment's state, read from Redis alone (no model, no platform): queue depth, live
 * workers, replies in flight, inbox depths, recent throughput, the same for /imagine (image
 * queue, image inboxes, pictures made and failed), and the per-place settings (what each server,
 * channel or thread changed, and the latest changes: who, what, when). `npm run status` prints it.
 */
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { ImageKeys, type Keys } from "../keys.ts";
import { formatChange } from "../settings/formatSettings.ts";
import { readOverrides, readRecentChanges, type SettingsChange } from "../settings/SettingsStore.ts";
import { inboxDepths, QUEUE_STATES } from "./metrics.ts";
import { epochMinute } from "./workerStats.ts";

export interface LiveWorker {
  id: string;
  /** text (chat replies) or images (/imagine). */
  role: string;
  host: string;
  pid: number;
  model: string;
  /** cuda, vulkan, metal or cpu */
  gpu: string;
  sequences: number;
  inFlight: number;
  startedAt: number;
  seenAt: number;
}

export interface ThroughputWindow {
  minutes: number;
  replies: number;
  tokens: number;
  /** Tokens per wall-clock second over the window, all workers together. */
  tokensPerSecond: number;
  /** Mean time to first token (ms), null without replies. */
  meanTtftMs: number | null;
  /** Mean generation speed of one reply (tokens per second of its generation), null without replies. */
  replyTokensPerSecond: number | null;
}

export interface StatusReport {
  at: number;
  queue: Record<(typeof QUEUE_STATES)[number], number>;
  /** Replies being generated now, fleet-wide (active jobs: one job answers one message). */
  inFlight: number;
  workers: {
    /** Workers with a recent heartbeat. */
    live: LiveWorker[];
    /** Worker connections BullMQ sees (null when the server refuses CLIENT LIST). */
    bullmq: number | null;
  };
  inboxes: {
    conversations: number;
    messages: number;
    /** The deepest inboxes, deepest first. */
    deepest: Array<{ conversationKey: string; depth: number }>;
  };
  throughput: ThroughputWindow[];
  settings: {
    /** Every scope with settings of its own, and those settings (the rest are the defaults). */
    overrides: Array<{ scope: string; settings: Record<string, string> }>;
    /** The latest changes, newest first. */
    changes: SettingsChange[];
  };
  /** /imagine, when the image queue was given. */
  images?: ImagesStatus;
}

export interface ImagesStatus {
  queue: Record<(typeof QUEUE_STATES)[number], number>;
  /** Images being made now, fleet-wide (active image jobs). */
  inFlight: number;
  inboxes: { conversations: number; messages: number };
  throughput: Array<{
    minutes: number;
    /** Pictures delivered (whole or stopped). */
    images: number;
    failures: number;
    /** Mean generation time of a delivered picture (ms), null without any. */
    meanMs: number | null;
  }>;
}

export interface ReadStatusOptions {
  redis: Redis;
  queue: Queue;
  keys: Keys;
  /** The image queue (createImageQueue): adds the /imagine section. */
  imageQueue?: Queue;
  /** Throughput windows in minutes (default 1, 5, 15). */
  windows?: number[];
  /** How many of the deepest inboxes to list (default 5). */
  deepest?: number;
  /** How many settings changes to list (default 10). */
  changes?: number;
  now?: number;
}

const num = (v: string | undefined) => (v === undefined || v === "" ? 0 : Number(v));

export async function readStatus(opts: ReadStatusOptions): Promise<StatusReport> {
  const { redis, queue, keys } = opts;
  const now = opts.now ?? Date.now();
  const windows = opts.windows ?? [1, 5, 15];

  const counts = await queue.getJobCounts(...QUEUE_STATES);
  const queueCounts = Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as StatusReport["queue"];

  let bullmq: number | null = null;
  try {
    bullmq = (await queue.getWorkers()).length;
  } catch {
    bullmq = null;
  }

  const ids = await redis.zrangebyscore(keys.workers, now - 60_000, "+inf");
  const live: LiveWorker[] = [];
  for (const id of ids) {
    const h = await redis.hgetall(keys.worker(id));
    if (!h.seenAt) continue; // expired: missed its heartbeats
    live.push({
      id,
      role: h.role ?? "text",
      host: h.host ?? "?",
      pid: num(h.pid),
      model: h.model ?? "?",
      gpu: h.gpu ?? "?",
      sequences: num(h.sequences),
      inFlight: num(h.inFlight),
      startedAt: num(h.startedAt),
      seenAt: num(h.seenAt),
    });
  }

  const depths = (await inboxDepths(redis, keys)).filter((d) => d.depth > 0).sort((a, b) => b.depth - a.depth);

  const current = epochMinute(now);
  const longest = Math.max(...windows, 1);
  const pipeline = redis.pipeline();
  for (let i = 0; i < longest; i++) pipeline.hgetall(keys.statsMinute(current - i));
  const minutes = ((await pipeline.exec()) ?? []).map(([err, v]) => {
    if (err) throw err;
    const h = v as Record<string, string>;
    return {
      replies: num(h.replies),
      tokens: num(h.tokens),
      genMs: num(h.gen_ms),
      ttftMs: num(h.ttft_ms),
      images: num(h.images),
      imageMs: num(h.image_ms),
      imageFailures: num(h.image_failures),
    };
  });
  const intoCurrent = (now % 60_000) / 1000;
  const throughput = windows.map((w): ThroughputWindow => {
    const slice = minutes.slice(0, w);
    const sum = (f: (m: (typeof slice)[number]) => number) => slice.reduce((a, m) => a + f(m), 0);
    const replies = sum((m) => m.replies);
    const tokens = sum((m) => m.tokens);
    const genMs = sum((m) => m.genMs);
    const seconds = (w - 1) * 60 + Math.max(1, intoCurrent);
    return {
      minutes: w,
      replies,
      tokens,
      tokensPerSecond: tokens / seconds,
      meanTtftMs: replies > 0 ? sum((m) => m.ttftMs) / replies : null,
      replyTokensPerSecond: genMs > 0 ? tokens / (genMs / 1000) : null,
    };
  });

  const report: StatusReport = {
    at: now,
    queue: queueCounts,
    inFlight: queueCounts.active,
    workers: { live, bullmq },
    inboxes: {
      conversations: depths.length,
      messages: depths.reduce((a, d) => a + d.depth, 0),
      deepest: depths.slice(0, opts.deepest ?? 5),
    },
    throughput,
    settings: {
      overrides: await readOverrides(redis, keys),
      changes: await readRecentChanges(redis, keys, opts.changes ?? 10),
    },
  };
  if (opts.imageQueue) {
    const imageCounts = await opts.imageQueue.getJobCounts(...QUEUE_STATES);
    const imageDepths = (await inboxDepths(redis, new ImageKeys(keys.prefix))).filter((d) => d.depth > 0);
    const queue = Object.fromEntries(QUEUE_STATES.map((s) => [s, imageCounts[s] ?? 0])) as ImagesStatus["queue"];
    report.images = {
      queue,
      inFlight: queue.active,
      inboxes: { conversations: imageDepths.length, messages: imageDepths.reduce((a, d) => a + d.depth, 0) },
      throughput: windows.map((w) => {
        const slice = minutes.slice(0, w);
        const images = slice.reduce((a, m) => a + m.images, 0);
        const ms = slice.reduce((a, m) => a + m.imageMs, 0);
        return { minutes: w, images, failures: slice.reduce((a, m) => a + m.imageFailures, 0), meanMs: images > 0 ? ms / images : null };
      }),
    };
  }
  return report;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, "0")}m`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The report as a person reads it in a terminal. */
export function formatStatus(r: StatusReport, header = "qwenbot status"): string {
  const lines: string[] = [];
  lines.push(`${header} — ${new Date(r.at).toISOString()}`, "");
  const q = r.queue;
  lines.push(`Queue       waiting ${q.waiting} · active ${q.active} · delayed ${q.delayed} · failed ${q.failed}`);
  lines.push(`In flight   ${plural(r.inFlight, "reply", "replies")} being generated`);
  const seen = r.workers.bullmq === null ? "" : ` (BullMQ sees ${r.workers.bullmq})`;
  lines.push(`Workers     ${r.workers.live.length} live${seen}`);
  for (const w of r.workers.live) {
    const what = w.role === "images" ? `images  ${w.model}` : `${w.gpu}  ${w.model}`;
    lines.push(
      `  ${w.id}  ${w.host} pid ${w.pid}  ${what}  ${w.inFlight}/${w.sequences} in flight  up ${ago(r.at - w.startedAt)}  seen ${ago(r.at - w.seenAt)} ago`,
    );
  }
  lines.push(`Inboxes     ${plural(r.inboxes.messages, "message")} waiting in ${plural(r.inboxes.conversations, "conversation")}`);
  for (const d of r.inboxes.deepest) lines.push(`  ${String(d.depth).padStart(4)}  ${d.conversationKey}`);
  lines.push("", "Throughput  replies   tokens   tokens/s   mean TTFT   tokens/s per reply");
  for (const t of r.throughput) {
    const ttft = t.meanTtftMs === null ? "—" : `${Math.round(t.meanTtftMs)} ms`;
    const per = t.replyTokensPerSecond === null ? "—" : t.replyTokensPerSecond.toFixed(1);
    lines.push(
      `  ${`last ${t.minutes} min`.padEnd(11)}${String(t.replies).padStart(6)}${String(t.tokens).padStart(9)}${t.tokensPerSecond.toFixed(2).padStart(11)}${ttft.padStart(12)}${per.padStart(21)}`,
    );
  }
  if (r.images) lines.push("", ...formatImages(r.images));
  lines.push("", `Settings    ${plural(r.settings.overrides.length, "place")} with changed settings (elsewhere the defaults apply)`);
  for (const o of r.settings.overrides) {
    const values = Object.entries(o.settings).map(([k, v]) => `${k}=${clip(v.replace(/\s+/g, " "), 60)}`);
    lines.push(`  ${o.scope}  ${values.join("  ")}`);
  }
  if (r.settings.changes.length > 0) {
    lines.push("", "Settings changes (newest first)");
    for (const c of r.settings.changes) lines.push(`  ${formatChange(c)}`);
  }
  return `${lines.join("\n")}\n`;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function formatImages(i: ImagesStatus): string[] {
  const q = i.queue;
  const lines = [`Images      waiting ${q.waiting} · active ${q.active} · delayed ${q.delayed} · failed ${q.failed}`];
  lines.push(`            ${plural(i.inboxes.messages, "request")} waiting in ${plural(i.inboxes.conversations, "conversation")}`);
  lines.push("            images   failed   mean time");
  for (const t of i.throughput) {
    const mean = t.meanMs === null ? "—" : `${(t.meanMs / 1000).toFixed(1)} s`;
    lines.push(
      `  ${`last ${t.minutes} min`.padEnd(11)}${String(t.images).padStart(5)}${String(t.failures).padStart(9)}${mean.padStart(12)}`,
    );
  }
  return lines;
}
