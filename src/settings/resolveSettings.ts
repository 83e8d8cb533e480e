/**
 * Scope resolution, pure: the defaults, overridden by what the workspace sets, then the channel,
 * then the thread — per setting, remembering which scope each value came from (for `show`).
 * Stored values are validated again on the way out: one that the current configuration refuses
 * (a lower MAX_SYSTEM_PROMPT_CHARS, an engine no longer configured, a setting moved to another
 * level) is ignored — the scope above applies — and reported in `ignored`.
 */
import { SETTING_KEYS, type SettingKey, type SettingsCatalog, type SettingValues } from "./settingsCatalog.ts";
import { type ScopeLevel, type SettingsScope, scopeId } from "./settingsScope.ts";

/** Where a value came from: a scope level, or the deployment's default. */
export type SettingSource = ScopeLevel | "default";

export interface IgnoredSetting {
  scope: string;
  setting: string;
  reason: string;
}

export interface EffectiveSettings {
  values: SettingValues;
  sources: Record<SettingKey, SettingSource>;
  /** Stored values the current configuration refuses (not applied). */
  ignored: IgnoredSetting[];
}

/** What one scope stores: canonical values by setting key. */
export interface StoredLayer {
  scope: SettingsScope;
  stored: Readonly<Record<string, string>>;
}

export function defaultSettings(defaults: SettingValues): EffectiveSettings {
  const sources = Object.fromEntries(SETTING_KEYS.map((k) => [k, "default"])) as Record<SettingKey, SettingSource>;
  return { values: { ...defaults }, sources, ignored: [] };
}

/** Apply `layers` (broadest first) over `defaults`. */
export function resolveSettings(catalog: SettingsCatalog, defaults: SettingValues, layers: readonly StoredLayer[]): EffectiveSettings {
  const out = defaultSettings(defaults);
  const values = out.values as unknown as Record<SettingKey, unknown>;
  for (const { scope, stored } of layers) {
    for (const [field, raw] of Object.entries(stored)) {
      const def = catalog[field as SettingKey];
      if (!def) continue; // a setting this version no longer has
      const ignore = (reason: string) => out.ignored.push({ scope: scopeId(scope), setting: def.name, reason });
      if (!def.levels.includes(scope.level)) {
        ignore(`cannot be set per ${scope.level}`);
        continue;
      }
      const parsed = def.parse(raw);
      if (!parsed.ok) {
        ignore(parsed.message);
        continue;
      }
      values[def.key] = parsed.value;
      out.sources[def.key] = scope.level;
    }
  }
  return out;
}
