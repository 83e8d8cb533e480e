/**
 * The settings a server, channel or thread can change, each with its name in commands, where it
 * may be set, its default (the environment variable of the same meaning) and its validation. The
 * ranges are the environment's own: each setting parses with the zod schema of its variable in
 * src/config.ts, so a channel can never be given a value the deployment itself would refuse, and
 * a refusal names the allowed values.
 */
import { z } from "zod";
import { bool, type Config, configShape } from "../config.ts";
import type { Platform } from "../types.ts";
import { MEMORY_SCOPES, type MemoryScope, SCOPE_LEVELS, type ScopeLevel } from "./settingsScope.ts";

export interface SettingValues {
  /** The persona: the system message of every prompt. */
  systemPrompt: string;
  temperature: number;
  topK: number;
  maxNewTokens: number;
  /** Who shares a memory (decides the conversation key). */
  memoryScope: MemoryScope;
  /** A conversation is forgotten this long after its last message. */
  memoryTtlSeconds: number;
  /** Most earlier turns kept and shown to the model. */
  historyTurns: number;
  /** Whether the bot answers here at all (checked by the adapters' intake). */
  enabled: boolean;
  /** Discord: a mention in a channel opens a thread. */
  threadPerMention: boolean;
  /** Which configured engine/model answers. */
  engine: string;
}
export type SettingKey = keyof SettingValues;

/** The name of the engine a worker runs today (one engine per deployment until several can be configured). */
export const DEFAULT_ENGINE = "local";

export interface SettingsOptions {
  /** What applies where nothing is set: the environment's values. */
  defaults: SettingValues;
  /** Longest system prompt accepted (MAX_SYSTEM_PROMPT_CHARS). */
  maxSystemPromptChars: number;
  /** The engines a setting may name; the default engine is one of them. */
  engines: readonly string[];
}

export function settingsOptionsFrom(config: Config, engines: readonly string[] = [DEFAULT_ENGINE]): SettingsOptions {
  return {
    defaults: {
      systemPrompt: config.SYSTEM_PROMPT,
      temperature: config.TEMPERATURE,
      topK: config.TOP_K,
      maxNewTokens: config.MAX_NEW_TOKENS,
      memoryScope: config.MEMORY_SCOPE,
      memoryTtlSeconds: config.MEMORY_TTL_SECONDS,
      historyTurns: config.HISTORY_TURNS,
      enabled: true,
      threadPerMention: config.DISCORD_THREAD_PER_MENTION,
      engine: engines[0] ?? DEFAULT_ENGINE,
    },
    maxSystemPromptChars: config.MAX_SYSTEM_PROMPT_CHARS,
    engines,
  };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export interface SettingDefinition<K extends SettingKey = SettingKey> {
  key: K;
  /** The name in commands and displays (kebab-case). */
  name: string;
  /** One line: what it changes. */
  summary: string;
  /** The allowed values, in words ("a number from 0 to 2"). */
  allowed: string;
  /** Scope levels it may be set at. */
  levels: readonly ScopeLevel[];
  /** Platforms it means something on (absent: all). */
  platforms?: readonly Platform[];
  /** Validate a value as typed (or as stored). */
  parse(raw: string): Parsed<SettingValues[K]>;
  /** The canonical text of a value: what is stored and shown. */
  format(value: SettingValues[K]): string;
}

export type SettingsCatalog = { readonly [K in SettingKey]: SettingDefinition<K> };

/** Names in commands, by key (fixed: they do not depend on the options). */
export const SETTING_NAMES: Readonly<Record<SettingKey, string>> = {
  systemPrompt: "system-prompt",
  temperature: "temperature",
  topK: "top-k",
  maxNewTokens: "max-new-tokens",
  memoryScope: "memory-scope",
  memoryTtlSeconds: "memory-ttl",
  historyTurns: "history-length",
  enabled: "enabled",
  threadPerMention: "thread-per-mention",
  engine: "engine",
};
export const SETTING_KEYS = Object.keys(SETTING_NAMES) as SettingKey[];

/** Other names people type for a setting. */
const ALIASES: Record<string, SettingKey> = {
  persona: "systemPrompt",
  prompt: "systemPrompt",
  system: "systemPrompt",
  topk: "topK",
  maxtokens: "maxNewTokens",
  ttl: "memoryTtlSeconds",
  memoryttlseconds: "memoryTtlSeconds",
  history: "historyTurns",
  historyturns: "historyTurns",
  model: "engine",
};

const squash = (s: string) => s.toLowerCase().replace(/[\s_-]/g, "");

/** The setting a typed name means (`system-prompt`, `systemPrompt`, `persona`, …), if any. */
export function findSetting(name: string): SettingKey | undefined {
  const n = squash(name);
  return SETTING_KEYS.find((k) => squash(k) === n || squash(SETTING_NAMES[k]) === n) ?? ALIASES[n];
}

/** Walk a config schema (defaults, pipes, optionals) to its number check, for its range. */
function numberRange(schema: z.ZodType): { min: number; max: number; int: boolean } {
  let s = schema as unknown as { _zod: { def: Record<string, unknown> }; minValue?: number; maxValue?: number; isInt?: boolean };
  for (let i = 0; i < 10; i++) {
    const def = s._zod.def;
    if (def.type === "number") return { min: s.minValue ?? -Infinity, max: s.maxValue ?? Infinity, int: s.isInt === true };
    s = (def.out ?? def.innerType) as typeof s;
    if (!s) break;
  }
  throw new Error("not a number schema");
}

function rangeWords(schema: z.ZodType, unit = ""): string {
  const { min, max, int } = numberRange(schema);
  const kind = int ? "a whole number" : "a number";
  const u = unit ? ` ${unit}` : "";
  return max >= Number.MAX_SAFE_INTEGER ? `${kind} of at least ${min}${u}` : `${kind} from ${min} to ${max}${u}`;
}

/** A setting parsed by an environment variable's schema. */
function byConfig<T>(schema: z.ZodType<T>, allowed: string, pre: (raw: string) => string = (r) => r.trim()): (raw: string) => Parsed<T> {
  return (raw) => {
    const r = schema.safeParse(pre(raw));
    return r.success ? { ok: true, value: r.data } : { ok: false, message: `must be ${allowed}` };
  };
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90m`, `12h`, `7d`, `2w` → seconds; a bare number is seconds already. */
function durationToSeconds(raw: string): string {
  const m = /^(\d+)\s*([smhdw])$/i.exec(raw.trim());
  return m ? String(Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!) : raw.trim();
}

/** `604800 (7 days)`. */
export function formatDuration(seconds: number): string {
  for (const [n, word] of [
    [604_800, "week"],
    [86_400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ] as const) {
    if (seconds >= n && seconds % n === 0) return `${seconds / n} ${word}${seconds / n === 1 ? "" : "s"}`;
  }
  return `${seconds} seconds`;
}

const ALL_LEVELS = SCOPE_LEVELS;
const BROAD_LEVELS: readonly ScopeLevel[] = ["workspace", "channel"];

export function createSettingsCatalog(options: Pick<SettingsOptions, "maxSystemPromptChars" | "engines">): SettingsCatalog {
  const max = options.maxSystemPromptChars;
  const systemPrompt = z.string().trim().min(1).max(max);
  const engines = z.enum(options.engines as [string, ...string[]]);
  const ttl = configShape.MEMORY_TTL_SECONDS;
  const num = (v: number) => String(v);
  return {
    systemPrompt: {
      key: "systemPrompt",
      name: SETTING_NAMES.systemPrompt,
      summary: "The persona: the system message the model reads before every conversation.",
      allowed: `text of 1 to ${max} characters`,
      levels: ALL_LEVELS,
      parse: (raw) => {
        const r = systemPrompt.safeParse(raw);
        if (r.success) return { ok: true, value: r.data };
        const length = raw.trim().length;
        return {
          ok: false,
          message:
            length === 0
              ? "must not be empty (reset it to go back to the default)"
              : `is ${length} characters long; at most ${max} are allowed`,
        };
      },
      format: (v) => v,
    },
    temperature: {
      key: "temperature",
      name: SETTING_NAMES.temperature,
      summary: "Sampling temperature (0: always the most likely token).",
      allowed: rangeWords(configShape.TEMPERATURE),
      levels: ALL_LEVELS,
      parse: byConfig(configShape.TEMPERATURE, rangeWords(configShape.TEMPERATURE)),
      format: num,
    },
    topK: {
      key: "topK",
      name: SETTING_NAMES.topK,
      summary: "Sample among the k most likely tokens (0: no limit).",
      allowed: rangeWords(configShape.TOP_K),
      levels: ALL_LEVELS,
      parse: byConfig(configShape.TOP_K, rangeWords(configShape.TOP_K)),
      format: num,
    },
    maxNewTokens: {
      key: "maxNewTokens",
      name: SETTING_NAMES.maxNewTokens,
      summary: "Most tokens in one reply.",
      allowed: rangeWords(configShape.MAX_NEW_TOKENS),
      levels: ALL_LEVELS,
      parse: byConfig(configShape.MAX_NEW_TOKENS, rangeWords(configShape.MAX_NEW_TOKENS)),
      format: num,
    },
    memoryScope: {
      key: "memoryScope",
      name: SETTING_NAMES.memoryScope,
      summary: "Who shares a memory: thread (a thread its own), channel (the whole channel), user (each person their own).",
      allowed: `one of ${MEMORY_SCOPES.join(", ")}`,
      levels: BROAD_LEVELS,
      parse: byConfig(configShape.MEMORY_SCOPE, `one of ${MEMORY_SCOPES.join(", ")}`, (r) => r.trim().toLowerCase()),
      format: (v) => v,
    },
    memoryTtlSeconds: {
      key: "memoryTtlSeconds",
      name: SETTING_NAMES.memoryTtlSeconds,
      summary: "A conversation is forgotten this long after its last message.",
      allowed: `${rangeWords(ttl, "seconds")} (or with a unit: 90m, 12h, 7d, 2w)`,
      levels: ALL_LEVELS,
      parse: byConfig(ttl, `${rangeWords(ttl, "seconds")} (or with a unit: 90m, 12h, 7d, 2w)`, durationToSeconds),
      format: num,
    },
    historyTurns: {
      key: "historyTurns",
      name: SETTING_NAMES.historyTurns,
      summary: "Most earlier turns (a message or an answer each) kept and shown to the model; 0: each message stands alone.",
      allowed: rangeWords(configShape.HISTORY_TURNS),
      levels: ALL_LEVELS,
      parse: byConfig(configShape.HISTORY_TURNS, rangeWords(configShape.HISTORY_TURNS)),
      format: num,
    },
    enabled: {
      key: "enabled",
      name: SETTING_NAMES.enabled,
      summary: "Whether the bot answers here at all.",
      allowed: "true or false (on/off, yes/no)",
      levels: ALL_LEVELS,
      parse: byConfig(bool, "true or false (on/off, yes/no)"),
      format: (v) => String(v),
    },
    threadPerMention: {
      key: "threadPerMention",
      name: SETTING_NAMES.threadPerMention,
      summary: "Discord: a mention in a channel opens a thread named after the question.",
      allowed: "true or false (on/off, yes/no)",
      levels: BROAD_LEVELS,
      platforms: ["discord"],
      parse: byConfig(bool, "true or false (on/off, yes/no)"),
      format: (v) => String(v),
    },
    engine: {
      key: "engine",
      name: SETTING_NAMES.engine,
      summary: "Which configured engine (model) answers.",
      allowed: `one of ${options.engines.join(", ")}`,
      levels: ALL_LEVELS,
      parse: byConfig(engines, `one of ${options.engines.join(", ")}`),
      format: (v) => v,
    },
  };
}

/** Validate what a person typed (or what is stored) and give its canonical text. */
export function canonicalValue(def: SettingDefinition, raw: string): Parsed<string> {
  const parsed = (def.parse as (raw: string) => Parsed<unknown>)(raw);
  return parsed.ok ? { ok: true, value: formatValue(def, parsed.value) } : parsed;
}

/** The canonical text of a value of `def`. */
export function formatValue(def: SettingDefinition, value: unknown): string {
  return (def.format as (v: unknown) => string)(value);
}

/** A value as people read it (a duration says how long). */
export function displayValue(key: SettingKey, canonical: string): string {
  if (key === "memoryTtlSeconds" && /^\d+$/.test(canonical)) return `${canonical} (${formatDuration(Number(canonical))})`;
  if (key === "systemPrompt") return `"${canonical}"`;
  return canonical;
}
