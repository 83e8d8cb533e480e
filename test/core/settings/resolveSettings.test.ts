/**
 * Scope resolution, pure: defaults ← workspace ← channel ← thread, per setting, with the source of
 * each value; stored values the configuration refuses are ignored; conversation keys by memory
 * scope (the default scope gives the keys the adapters have always built); the catalog's ranges
 * are the environment's.
 */
import { describe, expect, it } from "vitest";
import { discordConversationKey } from "../../../adapters/discord/discordConversation.ts";
import { slackConversationKey } from "../../../adapters/slack/slackConversation.ts";
import { loadConfig } from "../../../src/config.ts";
import { resolveSettings, type StoredLayer } from "../../../src/settings/resolveSettings.ts";
import { createSettingsCatalog, findSetting, SETTING_KEYS, settingsOptionsFrom } from "../../../src/settings/settingsCatalog.ts";
import {
  conversationKeyFor,
  InvalidPlaceError,
  parseScopeId,
  scopeChain,
  scopeChainOf,
  scopeId,
  scopeOf,
} from "../../../src/settings/settingsScope.ts";
import type { ChatPlace } from "../../../src/types.ts";

const config = loadConfig({ MAX_SYSTEM_PROMPT_CHARS: "50" });
const options = settingsOptionsFrom(config, ["local", "big"]);
const catalog = createSettingsCatalog(options);
const defaults = options.defaults;

const thread: ChatPlace = { platform: "discord", workspaceId: "g1", channelId: "c1", threadId: "t1" };
const channel: ChatPlace = { platform: "discord", workspaceId: "g1", channelId: "c1" };
const layer = (place: ChatPlace, level: "workspace" | "channel" | "thread", stored: Record<string, string>): StoredLayer => ({
  scope: scopeOf(place, level),
  stored,
});

describe("scope chain", () => {
  it("is workspace, channel, then the thread when in one, with stable ids", () => {
    expect(scopeChain(thread).map(scopeId)).toEqual(["discord:g1", "discord:g1:c1", "discord:g1:c1:t1"]);
    expect(scopeChain(channel).map((s) => s.level)).toEqual(["workspace", "channel"]);
    for (const s of scopeChain(thread)) expect(parseScopeId(scopeId(s))).toEqual(s);
    expect(scopeChainOf(scopeOf(thread, "channel")).map(scopeId)).toEqual(["discord:g1", "discord:g1:c1"]);
    expect(scopeChainOf(scopeOf(thread, "workspace")).map(scopeId)).toEqual(["discord:g1"]);
    expect(parseScopeId("nope:1")).toBeUndefined();
  });

  it("refuses ids that would make keys ambiguous, and a thread scope outside a thread", () => {
    expect(() => scopeOf({ ...channel, channelId: "a:b" }, "channel")).toThrow(InvalidPlaceError);
    expect(() => scopeOf({ ...channel, workspaceId: "" }, "workspace")).toThrow(InvalidPlaceError);
    expect(() => scopeOf(channel, "thread")).toThrow(/inside a thread/);
  });
});

describe("resolution", () => {
  it("with nothing stored, every value is the environment's default", () => {
    const r = resolveSettings(catalog, defaults, []);
    expect(r.values).toEqual({
      systemPrompt: config.SYSTEM_PROMPT,
      temperature: config.TEMPERATURE,
      topK: config.TOP_K,
      maxNewTokens: config.MAX_NEW_TOKENS,
      memoryScope: config.MEMORY_SCOPE,
      memoryTtlSeconds: config.MEMORY_TTL_SECONDS,
      historyTurns: config.HISTORY_TURNS,
      enabled: true,
      threadPerMention: config.DISCORD_THREAD_PER_MENTION,
      engine: "local",
    });
    for (const k of SETTING_KEYS) expect(r.sources[k]).toBe("default");
  });

  it("each scope overrides the one above, per setting, and says where each value came from", () => {
    const r = resolveSettings(catalog, defaults, [
      layer(thread, "workspace", { systemPrompt: "Server persona", temperature: "0.2", topK: "10" }),
      layer(thread, "channel", { temperature: "0.4", enabled: "false" }),
      layer(thread, "thread", { temperature: "1.5", enabled: "true" }),
    ]);
    expect(r.values.systemPrompt).toBe("Server persona");
    expect(r.values.topK).toBe(10);
    expect(r.values.temperature).toBe(1.5);
    expect(r.values.enabled).toBe(true);
    expect(r.values.maxNewTokens).toBe(config.MAX_NEW_TOKENS);
    expect(r.sources).toMatchObject({
      systemPrompt: "workspace",
      topK: "workspace",
      temperature: "thread",
      enabled: "thread",
      maxNewTokens: "default",
    });
    expect(r.ignored).toEqual([]);
  });

  it("the order of layers decides, not their content: a channel value under a thread that sets nothing stays", () => {
    const r = resolveSettings(catalog, defaults, [
      layer(thread, "workspace", {}),
      layer(thread, "channel", { maxNewTokens: "64" }),
      layer(thread, "thread", {}),
    ]);
    expect(r.values.maxNewTokens).toBe(64);
    expect(r.sources.maxNewTokens).toBe("channel");
  });

  it("ignores stored values the configuration refuses, and settings at a level they cannot have, falling back to the scope above", () => {
    const r = resolveSettings(catalog, defaults, [
      layer(thread, "workspace", { temperature: "0.3", engine: "big" }),
      layer(thread, "channel", { temperature: "7", systemPrompt: "x".repeat(51), engine: "gone", unknownOld: "1" }),
      layer(thread, "thread", { memoryScope: "user" }),
    ]);
    expect(r.values.temperature).toBe(0.3);
    expect(r.values.systemPrompt).toBe(config.SYSTEM_PROMPT);
    expect(r.values.engine).toBe("big");
    expect(r.values.memoryScope).toBe(config.MEMORY_SCOPE);
    expect(r.ignored.map((i) => `${i.scope} ${i.setting}`).sort()).toEqual([
      "discord:g1:c1 engine",
      "discord:g1:c1 system-prompt",
      "discord:g1:c1 temperature",
      "discord:g1:c1:t1 memory-scope",
    ]);
    expect(r.ignored.find((i) => i.setting === "temperature")!.reason).toBe("must be a number from 0 to 2");
  });
});

describe("catalog", () => {
  it("takes its ranges from the environment's schemas and names them in refusals", () => {
    for (const [key, bad, range] of [
      ["temperature", "2.5", "a number from 0 to 2"],
      ["topK", "-1", "a whole number from 0 to 1000"],
      ["maxNewTokens", "0", "a whole number from 1 to 32768"],
      ["historyTurns", "401", "a whole number from 0 to 400"],
      ["memoryTtlSeconds", "59", "a whole number of at least 60 seconds"],
    ] as const) {
      const parsed = catalog[key].parse(bad);
      expect(parsed.ok, key).toBe(false);
      if (!parsed.ok) expect(parsed.message).toContain(range);
      // The environment refuses the same value.
      const env = {
        temperature: "TEMPERATURE",
        topK: "TOP_K",
        maxNewTokens: "MAX_NEW_TOKENS",
        historyTurns: "HISTORY_TURNS",
        memoryTtlSeconds: "MEMORY_TTL_SECONDS",
      }[key];
      expect(() => loadConfig({ [env]: bad }), env).toThrow(env);
    }
    expect(catalog.temperature.parse(" 0.25 ")).toEqual({ ok: true, value: 0.25 });
    expect(catalog.enabled.parse("off")).toEqual({ ok: true, value: false });
    expect(catalog.memoryScope.parse("User")).toEqual({ ok: true, value: "user" });
    expect(catalog.engine.parse("big")).toEqual({ ok: true, value: "big" });
    expect(catalog.engine.parse("other")).toEqual({ ok: false, message: "must be one of local, big" });
  });

  it("memory TTL takes units; the system prompt has the configured length limit", () => {
    expect(catalog.memoryTtlSeconds.parse("12h")).toEqual({ ok: true, value: 43_200 });
    expect(catalog.memoryTtlSeconds.parse("7d")).toEqual({ ok: true, value: 604_800 });
    expect(catalog.memoryTtlSeconds.parse("30s").ok).toBe(false);
    expect(catalog.systemPrompt.parse("  A pirate.  ")).toEqual({ ok: true, value: "A pirate." });
    expect(catalog.systemPrompt.parse("y".repeat(51))).toEqual({ ok: false, message: "is 51 characters long; at most 50 are allowed" });
    expect(catalog.systemPrompt.parse("   ").ok).toBe(false);
  });

  it("finds settings by their names, keys and common aliases", () => {
    expect(findSetting("system-prompt")).toBe("systemPrompt");
    expect(findSetting("systemPrompt")).toBe("systemPrompt");
    expect(findSetting("persona")).toBe("systemPrompt");
    expect(findSetting("TOP_K")).toBe("topK");
    expect(findSetting("memory-ttl")).toBe("memoryTtlSeconds");
    expect(findSetting("model")).toBe("engine");
    expect(findSetting("volume")).toBeUndefined();
  });
});

describe("conversation keys by memory scope", () => {
  it("the default scope gives the keys the adapters have always built", () => {
    const dPlace = { guildId: "g1", channelId: "t1", parentId: "c1", isThread: true };
    expect(conversationKeyFor(thread, "thread", "u1")).toBe(discordConversationKey(dPlace));
    expect(conversationKeyFor(channel, "thread", "u1")).toBe(
      discordConversationKey({ guildId: "g1", channelId: "c1", parentId: null, isThread: false }),
    );
    expect(conversationKeyFor({ platform: "discord", workspaceId: "dm", channelId: "d9" }, "thread", "u1")).toBe(
      discordConversationKey({ guildId: null, channelId: "d9", parentId: null, isThread: false }),
    );
    expect(conversationKeyFor({ platform: "slack", workspaceId: "T1", channelId: "C1", threadId: "1700.01" }, "thread", "U1")).toBe(
      slackConversationKey("T1", "C1", "1700.01"),
    );
    expect(conversationKeyFor({ platform: "local", workspaceId: "local", channelId: "room" }, "thread", "u")).toBe("local:room");
  });

  it("channel scope shares one memory across the channel's threads; user scope gives each person their own", () => {
    expect(conversationKeyFor(thread, "channel", "u1")).toBe(conversationKeyFor(channel, "channel", "u2"));
    expect(conversationKeyFor(thread, "user", "u1")).toBe(conversationKeyFor(channel, "user", "u1"));
    expect(conversationKeyFor(channel, "user", "u1")).not.toBe(conversationKeyFor(channel, "user", "u2"));
    expect(conversationKeyFor(channel, "user", "u1")).not.toBe(conversationKeyFor(channel, "channel", "u1"));
    expect(() => conversationKeyFor(channel, "user", "a:b")).toThrow(InvalidPlaceError);
  });
});
