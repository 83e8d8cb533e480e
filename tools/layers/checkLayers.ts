/**
 * The import rules of `layerRules.ts` checked over the repository's import graph, and the file
 * size limit. `npm run layers` prints what breaks them (exit 1 when anything does).
 */
import fs from "node:fs";
import path from "node:path";
import { importsOf, sourceFiles } from "./importGraph.ts";
import { adapterPlatform, FORBIDDEN_PACKAGES, importAllowed, layerOf, MAX_FILE_LINES } from "./layerRules.ts";

export interface Violation {
  file: string;
  line: number;
  rule: string;
}

export function checkLayers(root: string): Violation[] {
  const out: Violation[] = [];
  for (const file of sourceFiles(root)) {
    const layer = layerOf(file);
    for (const edge of importsOf(root, file)) {
      if (edge.relative) {
        const target = layerOf(edge.to);
        if (!importAllowed(file, edge.to)) out.push({ file, line: edge.line, rule: `${layer} must not import ${target} (${edge.to})` });
        const [a, b] = [adapterPlatform(file), adapterPlatform(edge.to)];
        if (a && b && a !== b) out.push({ file, line: edge.line, rule: `adapters/${a} must not import adapters/${b} (${edge.to})` });
      } else if (FORBIDDEN_PACKAGES[layer]?.some((re) => re.test(edge.to))) {
        out.push({ file, line: edge.line, rule: `${layer} must not import the package ${edge.to}` });
      }
    }
    if (!file.startsWith("test/sim/")) {
      const lines = fs.readFileSync(path.join(root, file), "utf8").split("\n").length;
      if (lines > MAX_FILE_LINES) out.push({ file, line: lines, rule: `longer than ${MAX_FILE_LINES} lines (${lines})` });
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const violations = checkLayers(path.resolve(import.meta.dirname, "../.."));
  for (const v of violations) process.stdout.write(`${v.file}:${v.line}  ${v.rule}\n`);
  process.stdout.write(violations.length === 0 ? "layers: ok\n" : `layers: ${violations.length} violation(s)\n`);
  process.exitCode = violations.length === 0 ? 0 : 1;
}
