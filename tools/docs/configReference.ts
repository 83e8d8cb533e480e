/**
 * docs/configuration.md, generated from the config schema (src/config.ts) so the reference can
 * never drift from what the bot reads: one section per group, one row per variable with its
 * default (or what applies when unset) and its `.describe()` text, secrets marked. The page is
 * formatted with the project's Biome, as `biome check .` expects every Markdown file to be.
 *
 *   npm run docs:config              write docs/configuration.md
 *   npm run docs:config -- --check   exit 1 when docs/configuration.md differs from the schema
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { z } from "zod";
import { configGroups, configSchema, SECRET_VARIABLES } from "../../src/config.ts";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const CONFIG_REFERENCE = "docs/configuration.md";

const INTRO = `# Configuration reference

<!-- Generated from src/config.ts by \`npm run docs:config\`; edit the descriptions there, not here. -->

Every setting is an environment variable, read once at start by \`src/config.ts\` (the only module
that reads the environment); a bad value stops the process with a message naming the variable.
\`.env.example\` lists them all with their defaults (docker compose reads \`.env\`). An empty value
counts as unset.

Variables marked _(secret)_ are never logged: their values are scrubbed from every log line (so is
the password in \`REDIS_URL\`). Keep them out of git (\`.env\` is ignored).
`;

/** A line under a group's heading, where the group has its own page. */
const GROUP_NOTES: Record<string, string> = {
  Discord: "Setting up the bot and what each setting changes for users: [discord.md](discord.md).",
  Slack: "Setting up the app, Socket Mode or HTTP mode: [slack.md](slack.md).",
  Operations: "The endpoints, metrics and shutdown: [operations.md](operations.md).",
  Images: "Running an image engine next to the bot, and what `/imagine` does: [images.md](images.md).",
  "Settings and context":
    "The defaults of what each server, channel and thread can change, and how context and attachments are read: [settings.md](settings.md).",
};

interface Meta {
  description?: string;
  unset?: string;
}

const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/** The Default column: the schema's default, or what applies when an optional variable is unset. */
function defaultCell(value: unknown, meta: Meta): string {
  if (value === undefined) return meta.unset ?? "—";
  return `\`${Array.isArray(value) ? value.join(",") : String(value)}\``;
}

/** The page as Markdown, before formatting. */
export function renderConfigReferenceSource(): string {
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  const secrets: readonly string[] = SECRET_VARIABLES;
  const parts = [INTRO];
  for (const [title, group] of Object.entries(configGroups)) {
    parts.push(`## ${title}\n`);
    if (GROUP_NOTES[title]) parts.push(`${GROUP_NOTES[title]}\n`);
    const rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"];
    for (const [name, schema] of Object.entries(group as Record<string, z.ZodType>)) {
      const meta = (schema.meta() ?? {}) as Meta;
      if (!meta.description) throw new Error(`${name} has no description in src/config.ts`);
      const variable = `\`${name}\`${secrets.includes(name) ? " _(secret)_" : ""}`;
      rows.push(`| ${variable} | ${cell(defaultCell(defaults[name], meta))} | ${cell(meta.description)} |`);
    }
    parts.push(`${rows.join("\n")}\n`);
  }
  return parts.join("\n");
}

/** Format Markdown the way `biome check` wants it (aligned tables). */
export function formatMarkdown(text: string, root = ROOT): string {
  const biome = path.join(root, "node_modules", ".bin", process.platform === "win32" ? "biome.cmd" : "biome");
  return execFileSync(biome, ["format", `--stdin-file-path=${CONFIG_REFERENCE}`], { cwd: root, input: text, encoding: "utf8" });
}

/** docs/configuration.md as it should be. */
export function renderConfigReference(): string {
  return formatMarkdown(renderConfigReferenceSource());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = path.join(ROOT, CONFIG_REFERENCE);
  const expected = renderConfigReference();
  if (process.argv.includes("--check")) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (current !== expected) {
      process.stderr.write(`${CONFIG_REFERENCE} is stale: run npm run docs:config\n`);
      process.exit(1);
    }
    process.stdout.write(`${CONFIG_REFERENCE} is up to date\n`);
  } else {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, expected);
    process.stdout.write(`wrote ${CONFIG_REFERENCE}\n`);
  }
}
