/**
 * Settings as text for people: `show`'s answer (one line per setting, where its value comes
 * from), the brief version for `/help`, and an audit entry as one line (status, admin replies).
 * Plain text with Markdown-style code spans; Slack's adapter converts it like any answer.
 */
import type { SettingsChange, ShownSettings } from "./SettingsStore.ts";
import { levelName } from "./settingsScope.ts";

/** Longest value shown on one line (a long persona is cut). */
const VALUE_CHARS = 160;

const clip = (s: string, n = VALUE_CHARS) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** Every setting at a scope, one line each: `name`: value — where it comes from. */
export function formatShownSettings(shown: ShownSettings): string {
  const { scope } = shown;
  const here = levelName(scope.platform, scope.level);
  const lines = [`Settings for this ${here}:`];
  for (const s of shown.settings) {
    const from = s.setHere
      ? `set for this ${here}`
      : s.source === "default"
        ? "default"
        : `from the ${levelName(scope.platform, s.source)}`;
    lines.push(`• \`${s.name}\`: ${clip(s.value.replaceAll("\n", " "))} — ${from}`);
  }
  for (const i of shown.ignored) lines.push(`⚠ \`${i.setting}\` stored for ${i.scope} is ignored: it ${i.reason}.`);
  return lines.join("\n");
}

/** Only what differs from the defaults, in one line (for `/help`). */
export function formatSettingsBrief(shown: ShownSettings): string {
  const changed = shown.settings.filter((s) => s.source !== "default");
  if (changed.length === 0) return "All settings are the defaults here.";
  return `Changed here: ${changed.map((s) => `\`${s.name}\` ${clip(s.value.replaceAll("\n", " "), 60)}`).join(", ")}.`;
}

/** `2024-05-01T12:00:00.000Z  alice (U123)  discord:1:2  set temperature: 0.7 → 0.3` */
export function formatChange(c: SettingsChange): string {
  const who = `${c.actor.name} (${c.actor.id})`;
  const what =
    c.action === "set"
      ? `set ${c.setting}: ${c.from === undefined ? "" : `${clip(oneLine(c.from), 60)} → `}${clip(oneLine(c.to ?? ""), 60)}`
      : `reset ${c.setting}${c.from === undefined ? "" : ` (was ${clip(oneLine(c.from), 60)})`}`;
  return `${new Date(c.at).toISOString()}  ${who}  ${c.scope}  ${what}`;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ");
}
