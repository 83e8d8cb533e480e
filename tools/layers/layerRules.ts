/**
 * The project's layers and which may import which. `npm run layers` prints the import graph's
 * violations; `test/layers.test.ts` fails on any.
 *
 *   src/         core: types, config, errors, keys, logger, text, queue, memory, stream, intake.
 *                No platform SDK, no inference library.
 *   src/ops/     operations (metrics, health, status, worker stats): core only.
 *   adapters/    one folder per platform (discord, slack, local): core only, never each other.
 *   workers/     the model side (ChatWorker, inference engines): core only.
 *   bin/         entry points and process wiring: anything but tools/ and test/.
 *   tools/       developer tools (bench, chaos, test-model writer): anything but test/ — with one
 *                exception (IMPORT_EXCEPTIONS): tools/chaos/ may import the loopback simulators
 *                in test/sim/, which `npm run chaos -- --platforms discord,slack` runs.
 *   test/        anything.
 */

export type Layer = "core" | "ops" | "adapters" | "workers" | "bin" | "tools" | "test" | "other";

export function layerOf(file: string): Layer {
  if (file.startsWith("src/ops/")) return "ops";
  if (file.startsWith("src/")) return "core";
  for (const l of ["adapters", "workers", "bin", "tools", "test"] as const) if (file.startsWith(`${l}/`)) return l;
  return "other";
}

/** Layers each layer may import from (itself included where listed). */
export const ALLOWED: Record<Layer, readonly Layer[]> = {
  core: ["core"],
  ops: ["core", "ops"],
  adapters: ["core", "adapters"],
  workers: ["core", "workers"],
  bin: ["core", "ops", "adapters", "workers", "bin"],
  tools: ["core", "ops", "adapters", "workers", "bin", "tools"],
  test: ["core", "ops", "adapters", "workers", "bin", "tools", "test"],
  other: ["core", "ops", "adapters", "workers", "bin", "tools", "test", "other"],
};

/**
 * Imports allowed across the layer rules above, each for one folder into one folder, and why.
 * Keep this list short: an exception is a reason to move code, unless it is as narrow as these.
 */
export const IMPORT_EXCEPTIONS: ReadonlyArray<{ from: string; to: string; why: string }> = [
  {
    from: "tools/chaos/",
    to: "test/sim/",
    why: "the chaos run drives the Discord and Slack loopback simulators as the platforms its adapter processes talk to",
  },
];

/** Whether `file` may import `target` (repository-relative paths): the layer rules, or one of IMPORT_EXCEPTIONS. */
export function importAllowed(file: string, target: string): boolean {
  if (ALLOWED[layerOf(file)].includes(layerOf(target))) return true;
  return IMPORT_EXCEPTIONS.some((e) => file.startsWith(e.from) && target.startsWith(e.to));
}

/** Packages a layer must not import (platform SDKs stay in adapters, inference libraries in workers). */
const PLATFORM_SDKS = [/^discord\.js$/, /^@discordjs\//, /^@slack\//];
const INFERENCE_LIBS = [/^node-llama-cpp$/, /^openai$/];
export const FORBIDDEN_PACKAGES: Partial<Record<Layer, readonly RegExp[]>> = {
  core: [...PLATFORM_SDKS, ...INFERENCE_LIBS],
  ops: [...PLATFORM_SDKS, ...INFERENCE_LIBS],
  adapters: INFERENCE_LIBS,
  workers: PLATFORM_SDKS,
};

/** adapters/<platform>/… may not import another platform's folder. */
export function adapterPlatform(file: string): string | undefined {
  return /^adapters\/([^/]+)\//.exec(file)?.[1];
}

/** Longest a source file may be, in lines (simulators under test/sim/ excepted). */
export const MAX_FILE_LINES = 400;
