/**
 * README's "Configuration reference" table lists exactly the variables of the config schema
 * (src/config.ts), once each, with the schema's default where the table shows a literal one.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { configShape, loadConfig } from "../../src/config.ts";
import { ROOT } from "../helpers/runCli.ts";

interface Row {
  name: string;
  defaultCell: string;
  meaning: string;
}

/** Rows `| \`VAR\` | default | meaning |` of the table under `## Configuration reference`. */
function configReferenceRows(readme: string): Row[] {
  const start = readme.search(/^## Configuration reference\s*$/m);
  if (start < 0) throw new Error('README.md has no "## Configuration reference" section');
  const rest = readme.slice(start).split("\n").slice(1);
  const end = rest.findIndex((l) => /^## /.test(l));
  const section = end < 0 ? rest : rest.slice(0, end);
  const rows: Row[] = [];
  for (const line of section) {
    const m = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|(.*)\|\s*$/.exec(line);
    if (m) rows.push({ name: m[1]!, defaultCell: m[2]!.trim(), meaning: m[3]!.trim() });
  }
  return rows;
}

describe("README configuration reference", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

  it("lists exactly the schema's variables, once each", () => {
    const rows = configReferenceRows(readme);
    const names = rows.map((r) => r.name);
    expect([...names].sort()).toEqual(Object.keys(configShape).sort());
    expect(new Set(names).size).toBe(names.length);
  });

  it("shows the schema's default where it gives a literal one, and explains every variable", () => {
    const defaults = loadConfig({}) as unknown as Record<string, unknown>;
    for (const row of configReferenceRows(readme)) {
      expect(row.meaning.length, row.name).toBeGreaterThan(10);
      const literal = /^`([^`]*)`$/.exec(row.defaultCell);
      if (!literal) continue; // prose such as "the physical CPU cores" or "—" (unset)
      const parsed = loadConfig({ [row.name]: literal[1]! }) as unknown as Record<string, unknown>;
      expect(parsed[row.name], row.name).toEqual(defaults[row.name]);
    }
  });

  it("reads a table the way the README writes it", () => {
    const sample =
      "# x\n## Configuration reference\n\n| Variable | Default | Meaning |\n|---|---|---|\n| `A_B` | `1` | The a b setting. |\n\n## Next\n| `C` | `2` | not in the section |\n";
    expect(configReferenceRows(sample)).toEqual([{ name: "A_B", defaultCell: "`1`", meaning: "The a b setting." }]);
  });
});
