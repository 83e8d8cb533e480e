/**
 * Per-place settings in Redis: what the workers read for every reply (`resolve`), what the
 * adapters' intake checks (`intake`: is the bot on here, which conversation is this), and what
 * the admin commands change (`set`, `reset`, `show`). A change applies to the next reply: nothing
 * is cached. Each change is validated (settingsCatalog), stored with its audit entry in one
 * script (lua/change.lua), and logged; `npm run status` shows the audit log and every override.
 *
 * Layout: one hash per scope (`settings:<scopeId>`: setting key → canonical value), the set of
 * scopes that have any, and the audit log (a list, newest first, at most AUDIT_LIMIT entries).
 */
import fs from "node:fs";
import path from "node:path";
import type { Redis } from "ioredis";
import type { Keys } from "../keys.ts";
import type { Logger } from "../logger.ts";
import type { ChatAuthor, ChatPlace } from "../types.ts";
import { defaultSettings, type EffectiveSettings, resolveSettings, type SettingSource } from "./resolveSettings.ts";
import {
  canonicalValue,
  createSettingsCatalog,
  displayValue,
  findSetting,
  formatValue,
  SETTING_KEYS,
  SETTING_NAMES,
  type SettingKey,
  type SettingsCatalog,
  type SettingsOptions,
} from "./settingsCatalog.ts";
import { conversationKeyFor, levelName, type SettingsScope, scopeChain, scopeChainOf, scopeId } from "./settingsScope.ts";

/** Audit entries kept (the oldest go first). */
export const AUDIT_LIMIT = 500;
/** Longest value an audit entry keeps (a system prompt is cut there). */
const AUDIT_VALUE_CHARS = 300;

const CHANGE_LUA = fs.readFileSync(path.join(import.meta.dirname, "lua", "change.lua"), "utf8");
type SettingsRedis = Redis & { settingsChange(...args: Array<string | number>): Promise<Array<string | null>> };
const defined = new WeakSet<Redis>();
function withScript(redis: Redis): SettingsRedis {
  if (!defined.has(redis)) {
    redis.defineCommand("settingsChange", { numberOfKeys: 3, lua: CHANGE_LUA });
    defined.add(redis);
  }
  return redis as SettingsRedis;
}

/** One change as the audit log keeps it. */
export interface SettingsChange {
  at: number;
  actor: ChatAuthor;
  /** Scope id (`discord:<guild>:<channel>`). */
  scope: string;
  /** The setting's name (`temperature`). */
  setting: string;
  action: "set" | "reset";
  /** The value before (absent: it was not set at this scope). Long values are cut. */
  from?: string;
  /** The value set. Long values are cut. */
  to?: string;
}

export type SettingsRefusalCode = "UNKNOWN_SETTING" | "INVALID_VALUE" | "WRONG_SCOPE";

/** What `set` and `reset` answer; `message` is written for the person who asked (ephemeral). */
export type SettingsOutcome =
  | { ok: true; action: "set" | "reset"; scope: string; settings: string[]; message: string }
  | { ok: false; code: SettingsRefusalCode; message: string };

/** One setting as `show` presents it. */
export interface ShownSetting {
  key: SettingKey;
  name: string;
  /** As people read it (`604800 (1 week)`). */
  value: string;
  source: SettingSource;
  /** Set at the scope shown (not inherited). */
  setHere: boolean;
  summary: string;
  allowed: string;
}

export interface ShownSettings {
  scope: SettingsScope;
  scopeId: string;
  settings: ShownSetting[];
  ignored: EffectiveSettings["ignored"];
}

/** What an adapter's intake needs before taking a message. */
export interface IntakeSettings {
  /** False: the bot does not answer at this place (`enabled` is off); `userMessage` says so. */
  enabled: boolean;
  userMessage?: string;
  /** The conversation (memory) this message belongs to, by the place's memory scope. */
  conversationKey: string;
  /** Discord: open a thread for a mention in a channel. */
  threadPerMention: boolean;
  settings: EffectiveSettings;
}

/** What the bot says when a message reaches it where it is switched off. */
export const DISABLED_TEXT = "I'm switched off here. Someone allowed to change my settings can turn me back on (setting `enabled`).";

export class SettingsStore {
  readonly catalog: SettingsCatalog;
  private readonly redis: SettingsRedis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    readonly options: SettingsOptions,
    private readonly logger?: Logger,
  ) {
    this.redis = withScript(redis);
    this.catalog = createSettingsCatalog(options);
  }

  /** The deployment's defaults, nothing read. */
  defaults(): EffectiveSettings {
    return defaultSettings(this.options.defaults);
  }

  /** The settings in force at `place` (no place: the defaults). One pipelined round trip. */
  async resolve(place: ChatPlace | undefined): Promise<EffectiveSettings> {
    if (!place) return this.defaults();
    let chain: SettingsScope[];
    try {
      chain = scopeChain(place);
    } catch (err) {
      // An adapter's bug must not cost the reply: answer with the defaults and say why in the log.
      this.logger?.warn({ err, place }, "invalid place: the default settings apply");
      return this.defaults();
    }
    return this.resolveChain(chain);
  }

  private async resolveChain(chain: SettingsScope[]): Promise<EffectiveSettings> {
    const pipeline = this.redis.pipeline();
    for (const scope of chain) pipeline.hgetall(this.keys.settings(scopeId(scope)));
    const results = (await pipeline.exec()) ?? [];
    const layers = chain.map((scope, i) => {
      const [err, stored] = results[i] ?? [null, {}];
      if (err) throw err;
      return { scope, stored: stored as Record<string, string> };
    });
    return resolveSettings(this.catalog, this.options.defaults, layers);
  }

  /** Is the bot on at `place`, and which conversation is a message of `userId` there. */
  async intake(place: ChatPlace, userId: string): Promise<IntakeSettings> {
    return intakeSettings(place, userId, await this.resolve(place));
  }

  /** Set one setting at `scope` from what a person typed. Nothing is stored when it is refused. */
  async set(scope: SettingsScope, name: string, rawValue: string, actor: ChatAuthor): Promise<SettingsOutcome> {
    const id = checkedScopeId(scope);
    const found = this.lookup(scope, name);
    if (!found.ok) return found;
    const def = this.catalog[found.key];
    const parsed = canonicalValue(def, rawValue);
    if (!parsed.ok) {
      const shown = rawValue.length <= 40 ? ` (got "${rawValue}")` : "";
      return { ok: false, code: "INVALID_VALUE", message: `${def.name} ${parsed.message}${shown}; nothing was changed.` };
    }
    const value = parsed.value;
    const [previous] = await this.change(id, "set", [[found.key, value]], actor);
    const where = `this ${levelName(scope.platform, scope.level)}`;
    const was = previous == null ? "" : ` (was ${clip(displayValue(found.key, previous), 80)})`;
    this.log(id, def.name, "set", actor, previous, value);
    return {
      ok: true,
      action: "set",
      scope: id,
      settings: [def.name],
      message: `${def.name} is now ${clip(displayValue(found.key, value), 200)} for ${where}${was}.`,
    };
  }

  /** Clear one setting (or `all`) at `scope`: the scope above applies again. */
  async reset(scope: SettingsScope, name: string | "all", actor: ChatAuthor): Promise<SettingsOutcome> {
    const id = checkedScopeId(scope);
    let keysToClear: SettingKey[];
    if (name === "all") keysToClear = SETTING_KEYS;
    else {
      const found = this.lookup(scope, name, false);
      if (!found.ok) return found;
      keysToClear = [found.key];
    }
    const previous = await this.change(
      id,
      "reset",
      keysToClear.map((k) => [k, ""]),
      actor,
    );
    const cleared = keysToClear.filter((_, i) => previous[i] != null);
    keysToClear.forEach((k, i) => {
      if (previous[i] != null) this.log(id, SETTING_NAMES[k], "reset", actor, previous[i], undefined);
    });
    const where = `this ${levelName(scope.platform, scope.level)}`;
    const names = cleared.map((k) => SETTING_NAMES[k]);
    const message =
      names.length === 0
        ? `Nothing to reset: ${name === "all" ? "no setting is" : `${SETTING_NAMES[keysToClear[0]!]} is not`} set for ${where}.`
        : `Reset for ${where}: ${names.join(", ")}. ${parentWords(scope)} applies again.`;
    return { ok: true, action: "reset", scope: id, settings: names, message };
  }

  /** Every setting in force at `scope`, with where it comes from. */
  async show(scope: SettingsScope): Promise<ShownSettings> {
    const effective = await this.resolveChain(scopeChainOf(scope));
    const values = effective.values as unknown as Record<SettingKey, unknown>;
    const settings = SETTING_KEYS.filter((k) => {
      const platforms = this.catalog[k].platforms;
      return !platforms || platforms.includes(scope.platform);
    }).map((k): ShownSetting => {
      const def = this.catalog[k];
      return {
        key: k,
        name: def.name,
        value: displayValue(k, formatValue(def, values[k])),
        source: effective.sources[k],
        setHere: effective.sources[k] === scope.level,
        summary: def.summary,
        allowed: def.allowed,
      };
    });
    return { scope, scopeId: scopeId(scope), settings, ignored: effective.ignored };
  }

  /** The newest changes first. */
  async recentChanges(limit = 20): Promise<SettingsChange[]> {
    return readRecentChanges(this.redis, this.keys, limit);
  }

  private lookup(
    scope: SettingsScope,
    name: string,
    checkLevel = true,
  ): { ok: true; key: SettingKey } | Extract<SettingsOutcome, { ok: false }> {
    const key = findSetting(name);
    if (!key) {
      const known = SETTING_KEYS.map((k) => SETTING_NAMES[k]).join(", ");
      return { ok: false, code: "UNKNOWN_SETTING", message: `There is no setting "${clip(name, 40)}". The settings are: ${known}.` };
    }
    const def = this.catalog[key];
    if (def.platforms && !def.platforms.includes(scope.platform))
      return { ok: false, code: "WRONG_SCOPE", message: `${def.name} is a ${def.platforms.join("/")} setting.` };
    if (checkLevel && !def.levels.includes(scope.level)) {
      const levels = def.levels.map((l) => levelName(scope.platform, l)).join(" or ");
      return {
        ok: false,
        code: "WRONG_SCOPE",
        message: `${def.name} is set per ${levels}, not per ${levelName(scope.platform, scope.level)}.`,
      };
    }
    return { ok: true, key };
  }

  private async change(
    id: string,
    action: "set" | "reset",
    changes: Array<[SettingKey, string]>,
    actor: ChatAuthor,
  ): Promise<Array<string | null>> {
    const at = Date.now();
    const args: string[] = [];
    for (const [key, value] of changes) {
      const entry: SettingsChange = { at, actor: { id: actor.id, name: actor.name }, scope: id, setting: SETTING_NAMES[key], action };
      if (action === "set") entry.to = clip(value, AUDIT_VALUE_CHARS);
      args.push(key, value, JSON.stringify(entry));
    }
    return this.redis.settingsChange(
      this.keys.settings(id),
      this.keys.settingsScopes,
      this.keys.settingsAudit,
      id,
      AUDIT_LIMIT,
      action,
      changes.length,
      ...args,
    );
  }

  private log(
    scope: string,
    setting: string,
    action: "set" | "reset",
    actor: ChatAuthor,
    from: string | null | undefined,
    to: string | undefined,
  ): void {
    this.logger?.info(
      {
        settingsChange: {
          scope,
          setting,
          action,
          actor: { id: actor.id, name: actor.name },
          from: from == null ? undefined : clip(from, 200),
          to: to === undefined ? undefined : clip(to, 200),
        },
      },
      "setting changed",
    );
  }
}

/** The intake's view of effective settings, pure (adapters with settings in hand call this). */
export function intakeSettings(place: ChatPlace, userId: string, settings: EffectiveSettings): IntakeSettings {
  const { values } = settings;
  const out: IntakeSettings = {
    enabled: values.enabled,
    conversationKey: conversationKeyFor(place, values.memoryScope, userId),
    threadPerMention: values.threadPerMention,
    settings,
  };
  if (!values.enabled) out.userMessage = DISABLED_TEXT;
  return out;
}

/** The audit log, newest first (status reads it without a catalog). */
export async function readRecentChanges(redis: Redis, keys: Keys, limit = 20): Promise<SettingsChange[]> {
  const raw = await redis.lrange(keys.settingsAudit, 0, Math.max(0, limit - 1));
  return raw.flatMap((s) => {
    try {
      return [JSON.parse(s) as SettingsChange];
    } catch {
      return [];
    }
  });
}

/** Every scope's settings (what differs from the defaults), by scope id. */
export async function readOverrides(redis: Redis, keys: Keys): Promise<Array<{ scope: string; settings: Record<string, string> }>> {
  const ids = (await redis.smembers(keys.settingsScopes)).sort();
  if (ids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(keys.settings(id));
  const results = (await pipeline.exec()) ?? [];
  return ids
    .map((scope, i) => {
      const [err, stored] = results[i] ?? [null, {}];
      if (err) throw err;
      const settings: Record<string, string> = {};
      for (const [field, value] of Object.entries(stored as Record<string, string>)) {
        const key = field as SettingKey;
        settings[SETTING_NAMES[key] ?? field] = SETTING_NAMES[key] ? displayValue(key, value) : value;
      }
      return { scope, settings };
    })
    .filter((o) => Object.keys(o.settings).length > 0);
}

/** The scope's id, after checking its ids (throws InvalidPlaceError: an adapter's bug). */
function checkedScopeId(scope: SettingsScope): string {
  scopeChainOf(scope);
  return scopeId(scope);
}

function parentWords(scope: SettingsScope): string {
  if (scope.level === "thread") return "The channel's setting (or the default)";
  if (scope.level === "channel") return `The ${levelName(scope.platform, "workspace")}'s setting (or the default)`;
  return "The default";
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
