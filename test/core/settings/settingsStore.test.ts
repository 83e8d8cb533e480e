/**
 * The settings store on the real Redis: set / reset / show, refusals that store nothing (unknown
 * setting, out of range, persona over the limit, wrong scope), the audit log (who, what, when;
 * bounded) with a log line per change, the next read seeing a change at once, and the intake's
 * view (enabled, conversation key by memory scope).
 */
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import { Keys } from "../../../src/keys.ts";
import { createLogger } from "../../../src/logger.ts";
import { createRedis } from "../../../src/redisConnection.ts";
import { formatChange, formatSettingsBrief, formatShownSettings } from "../../../src/settings/formatSettings.ts";
import { AUDIT_LIMIT, DISABLED_TEXT, readOverrides, SettingsStore } from "../../../src/settings/SettingsStore.ts";
import { settingsOptionsFrom } from "../../../src/settings/settingsCatalog.ts";
import { InvalidPlaceError, scopeId, scopeOf } from "../../../src/settings/settingsScope.ts";
import type { ChatPlace } from "../../../src/types.ts";
import { REDIS_URL } from "../../helpers/harness.ts";

const config = loadConfig({ MAX_SYSTEM_PROMPT_CHARS: "250" });
const keys = new Keys(`qbt-${randomUUID().slice(0, 8)}`);
const logLines: Array<Record<string, unknown>> = [];
let redis: Redis;
let store: SettingsStore;

const admin = { id: "U-admin", name: "alice" };
const place = (n: string, threadId?: string): ChatPlace =>
  threadId === undefined
    ? { platform: "discord", workspaceId: "g", channelId: `c${n}` }
    : { platform: "discord", workspaceId: "g", channelId: `c${n}`, threadId };

async function allKeys(): Promise<string[]> {
  return redis.keys(`${keys.prefix}:*`);
}

beforeAll(async () => {
  redis = createRedis(REDIS_URL, "worker");
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) logLines.push(JSON.parse(line));
      cb();
    },
  });
  store = new SettingsStore(redis, keys, settingsOptionsFrom(config), createLogger({ level: "info", destination: stream }));
});

afterAll(async () => {
  const k = await allKeys();
  if (k.length > 0) await redis.del(...k);
  redis.disconnect();
});

describe("set and resolve", () => {
  it("a change applies to the next read; the thread overrides the channel, the channel the server", async () => {
    // A server of its own: the other tests' channels see the defaults.
    const p = { ...place("1", "t1"), workspaceId: "g1" };
    expect((await store.resolve(p)).values.temperature).toBe(config.TEMPERATURE);
    const r1 = await store.set(scopeOf(p, "workspace"), "temperature", "0.2", admin);
    expect(r1).toMatchObject({ ok: true, action: "set", scope: "discord:g1", settings: ["temperature"] });
    expect((await store.resolve(p)).values.temperature).toBe(0.2);
    await store.set(scopeOf(p, "channel"), "temperature", "0.4", admin);
    await store.set(scopeOf(p, "thread"), "system-prompt", "You are a pirate.", admin);
    const r = await store.resolve(p);
    expect(r.values.temperature).toBe(0.4);
    expect(r.values.systemPrompt).toBe("You are a pirate.");
    expect(r.sources).toMatchObject({ temperature: "channel", systemPrompt: "thread", topK: "default" });
    // Another channel of the server sees only the server's value.
    expect((await store.resolve({ ...place("2"), workspaceId: "g1" })).values.temperature).toBe(0.2);
    // No place (old requests, the terminal): the defaults, nothing read.
    expect((await store.resolve(undefined)).values.temperature).toBe(config.TEMPERATURE);
  });

  it("answers the person in words: the new value, where, and what it was", async () => {
    const s = scopeOf(place("3"), "channel");
    await store.set(s, "memory-ttl", "2d", admin);
    const r = await store.set(s, "memory-ttl", "12h", admin);
    expect(r.ok && r.message).toBe("memory-ttl is now 43200 (12 hours) for this channel (was 172800 (2 days)).");
  });
});

describe("refusals store nothing", () => {
  it("an unknown setting is refused with the list of known ones", async () => {
    const before = await allKeys();
    const r = await store.set(scopeOf(place("4"), "channel"), "volume", "11", admin);
    expect(r).toMatchObject({ ok: false, code: "UNKNOWN_SETTING" });
    expect(!r.ok && r.message).toContain('There is no setting "volume"');
    expect(!r.ok && r.message).toContain(
      "system-prompt, temperature, top-k, max-new-tokens, memory-scope, memory-ttl, history-length, enabled, thread-per-mention, engine",
    );
    expect((await allKeys()).sort()).toEqual(before.sort());
  });

  it("out-of-range values and a persona over the limit are refused with the allowed values", async () => {
    const s = scopeOf(place("5"), "channel");
    const auditBefore = await redis.llen(keys.settingsAudit);
    const temp = await store.set(s, "temperature", "3", admin);
    expect(temp).toEqual({
      ok: false,
      code: "INVALID_VALUE",
      message: 'temperature must be a number from 0 to 2 (got "3"); nothing was changed.',
    });
    const k = await store.set(s, "top-k", "lots", admin);
    expect(!k.ok && k.message).toContain("a whole number from 0 to 1000");
    const long = await store.set(s, "system-prompt", "p".repeat(251), admin);
    expect(long).toEqual({
      ok: false,
      code: "INVALID_VALUE",
      message: "system-prompt is 251 characters long; at most 250 are allowed; nothing was changed.",
    });
    expect(await redis.exists(keys.settings(scopeId(s)))).toBe(0);
    expect(await redis.llen(keys.settingsAudit)).toBe(auditBefore);
    expect((await store.resolve(place("5"))).values.temperature).toBe(config.TEMPERATURE);
  });

  it("a setting at a level or on a platform it does not belong to is refused", async () => {
    const t = await store.set(scopeOf(place("6", "t6"), "thread"), "memory-scope", "user", admin);
    expect(t).toEqual({ ok: false, code: "WRONG_SCOPE", message: "memory-scope is set per server or channel, not per thread." });
    const slack = await store.set(
      { level: "channel", platform: "slack", workspaceId: "T", channelId: "C" },
      "thread-per-mention",
      "on",
      admin,
    );
    expect(slack).toMatchObject({ ok: false, code: "WRONG_SCOPE" });
    expect(await redis.exists(keys.settings("discord:g:c6:t6"))).toBe(0);
    // A scope with ids that would make keys ambiguous is an adapter's bug: thrown, nothing stored.
    const bad = { level: "channel", platform: "discord", workspaceId: "g", channelId: "x:y" } as const;
    await expect(store.set(bad, "top-k", "3", admin)).rejects.toThrow(InvalidPlaceError);
    await expect(store.reset({ level: "thread", platform: "discord", workspaceId: "g", channelId: "c" }, "all", admin)).rejects.toThrow(
      InvalidPlaceError,
    );
  });
});

describe("reset and show", () => {
  it("reset one setting or all: the scope above applies again; a reset of nothing says so", async () => {
    const p = place("7", "t7");
    await store.set(scopeOf(p, "channel"), "top-k", "5", admin);
    await store.set(scopeOf(p, "thread"), "top-k", "9", admin);
    await store.set(scopeOf(p, "thread"), "max-new-tokens", "99", admin);
    expect((await store.resolve(p)).values.topK).toBe(9);
    const one = await store.reset(scopeOf(p, "thread"), "top-k", admin);
    expect(one).toMatchObject({ ok: true, action: "reset", settings: ["top-k"] });
    expect((await store.resolve(p)).values.topK).toBe(5);
    const nothing = await store.reset(scopeOf(p, "thread"), "top-k", admin);
    expect(nothing.ok && nothing.message).toBe("Nothing to reset: top-k is not set for this thread.");
    const all = await store.reset(scopeOf(p, "thread"), "all", admin);
    expect(all.ok && all.settings).toEqual(["max-new-tokens"]);
    expect(await redis.exists(keys.settings("discord:g:c7:t7"))).toBe(0);
    expect(await redis.sismember(keys.settingsScopes, "discord:g:c7:t7")).toBe(0);
    expect(await redis.sismember(keys.settingsScopes, "discord:g:c7")).toBe(1);
    expect((await store.reset(scopeOf(p, "thread"), "nonsense", admin)).ok).toBe(false);
  });

  it("show lists every setting with its value and where it comes from", async () => {
    const p = place("8", "t8");
    await store.set(scopeOf(p, "channel"), "enabled", "off", admin);
    await store.set(scopeOf(p, "thread"), "persona", "Line one\nline two", admin);
    const shown = await store.show(scopeOf(p, "thread"));
    const by = Object.fromEntries(shown.settings.map((s) => [s.name, s]));
    expect(by.enabled).toMatchObject({ value: "false", source: "channel", setHere: false });
    expect(by["system-prompt"]).toMatchObject({ value: '"Line one\nline two"', source: "thread", setHere: true });
    expect(by["memory-ttl"]!.value).toBe(`${config.MEMORY_TTL_SECONDS} (1 week)`);
    const text = formatShownSettings(shown);
    expect(text).toContain("Settings for this thread:");
    expect(text).toContain('• `system-prompt`: "Line one line two" — set for this thread');
    expect(text).toContain("• `enabled`: false — from the channel");
    expect(text).toContain(`• \`temperature\`: ${config.TEMPERATURE} — default`);
    expect(formatSettingsBrief(shown)).toBe('Changed here: `system-prompt` "Line one line two", `enabled` false.');
    // At the channel, the thread's persona is not in force.
    const atChannel = await store.show(scopeOf(p, "channel"));
    expect(atChannel.settings.find((s) => s.name === "system-prompt")!.source).toBe("default");
  });
});

describe("audit", () => {
  it("records who changed what and when, newest first, with a log line per change", async () => {
    const s = scopeOf(place("9"), "channel");
    const bob = { id: "U-bob", name: "bob" };
    logLines.length = 0;
    const t0 = Date.now();
    await store.set(s, "top-k", "7", bob);
    await store.set(s, "top-k", "8", bob);
    await store.reset(s, "top-k", admin);
    const [reset, second, first] = await store.recentChanges(3);
    expect(first).toMatchObject({ actor: bob, scope: "discord:g:c9", setting: "top-k", action: "set", to: "7" });
    expect(first!.from).toBeUndefined();
    expect(second).toMatchObject({ action: "set", from: "7", to: "8" });
    expect(reset).toMatchObject({ actor: admin, action: "reset", from: "8" });
    expect(reset!.to).toBeUndefined();
    expect(first!.at).toBeGreaterThanOrEqual(t0);
    expect(formatChange(second!)).toMatch(/^\d{4}-\d\d-\d\dT.*Z {2}bob \(U-bob\) {2}discord:g:c9 {2}set top-k: 7 → 8$/);
    const changes = logLines.filter((l) => l.msg === "setting changed");
    expect(changes.map((l) => l.settingsChange)).toEqual([
      { scope: "discord:g:c9", setting: "top-k", action: "set", actor: bob, to: "7" },
      { scope: "discord:g:c9", setting: "top-k", action: "set", actor: bob, from: "7", to: "8" },
      { scope: "discord:g:c9", setting: "top-k", action: "reset", actor: admin, from: "8" },
    ]);
  });

  it("cuts long values (whole characters) and stays bounded", async () => {
    const s = scopeOf(place("10"), "channel");
    // 401 bytes: cut at 300, where the byte after is inside an "é" (backed off by one).
    const persona = `a${"é".repeat(200)}`;
    await store.set(s, "system-prompt", persona, admin);
    await store.set(s, "system-prompt", "short", admin);
    const [latest] = await store.recentChanges(1);
    expect(latest!.to).toBe("short");
    // Cut in Redis at a byte limit, never inside a character.
    expect(latest!.from!.endsWith("…")).toBe(true);
    expect(latest!.from).not.toContain("\uFFFD");
    expect(persona.startsWith(latest!.from!.slice(0, -1))).toBe(true);
    const pipeline = [];
    for (let i = 0; i < AUDIT_LIMIT + 5; i++) pipeline.push(store.set(s, "top-k", String(i % 100), admin));
    await Promise.all(pipeline);
    expect(await redis.llen(keys.settingsAudit)).toBe(AUDIT_LIMIT);
  });

  it("status's overview lists the settings of each scope that has any", async () => {
    const overrides = await readOverrides(redis, keys);
    const c3 = overrides.find((o) => o.scope === "discord:g:c3");
    expect(c3).toEqual({ scope: "discord:g:c3", settings: { "memory-ttl": "43200 (12 hours)" } });
    expect(overrides.find((o) => o.scope === "discord:g:c7:t7")).toBeUndefined();
    expect(overrides.map((o) => o.scope)).toEqual([...overrides.map((o) => o.scope)].sort());
  });
});

describe("intake", () => {
  it("says whether the bot answers here and which conversation a message belongs to", async () => {
    const p = place("11", "t11");
    const on = await store.intake(p, "u1");
    expect(on).toMatchObject({ enabled: true, conversationKey: "discord:g:c11:t11", threadPerMention: false });
    expect(on.userMessage).toBeUndefined();
    await store.set(scopeOf(p, "channel"), "memory-scope", "user", admin);
    await store.set(scopeOf(p, "thread"), "enabled", "false", admin);
    const off = await store.intake(p, "u1");
    expect(off).toMatchObject({ enabled: false, userMessage: DISABLED_TEXT, conversationKey: "discord:g:c11:user:u1" });
    expect((await store.intake(place("11"), "u2")).enabled).toBe(true);
  });

  it("an invalid place is answered with the defaults instead of failing the reply", async () => {
    const r = await store.resolve({ platform: "discord", workspaceId: "g", channelId: "bad:id" });
    expect(r.values).toEqual(store.defaults().values);
  });
});
