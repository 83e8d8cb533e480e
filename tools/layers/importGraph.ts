/**
 * Reads every TypeScript file of the repository and lists its imports (static, `import type`,
 * re-exports and dynamic `import()`), resolved to repository paths for relative ones.
 */
import fs from "node:fs";
import path from "node:path";

export interface ImportEdge {
  from: string;
  /** Repository path for a relative import, else the package name as written. */
  to: string;
  relative: boolean;
  line: number;
}

const SPEC =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
const SKIP = new Set(["node_modules", ".git", "models", "coverage", ".cache"]);

/** Every .ts file under `root` (relative paths, sorted). */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      if (SKIP.has(entry.name) || entry.name.startsWith(".")) continue;
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith(".ts")) out.push(rel);
    }
  };
  walk("");
  return out.sort();
}

export function importsOf(root: string, file: string): ImportEdge[] {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  const edges: ImportEdge[] = [];
  for (const m of text.matchAll(SPEC)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || spec.startsWith("node:")) continue;
    const line = text.slice(0, m.index).split("\n").length;
    if (spec.startsWith("."))
      edges.push({ from: file, to: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)), relative: true, line });
    else
      edges.push({
        from: file,
        to: spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!,
        relative: false,
        line,
      });
  }
  return edges;
}
