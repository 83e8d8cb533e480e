/**
 * docker-compose.yml, .env.example and the config schema agree, and Compose itself accepts the
 * file — validated offline, without a Docker engine, by `docker compose config` (v2 plugin) or
 * Debian's `docker-compose` (v1: `apt-get install docker-compose`), which CI installs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configShape, loadConfig } from "../../src/config.ts";
import { ROOT } from "../helpers/runCli.ts";

const SCHEMA = Object.keys(configShape).sort();
const composeText = fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8");
const envExampleText = fs.readFileSync(path.join(ROOT, ".env.example"), "utf8");

/** `NAME=value` lines of an env file (comments and blank lines skipped). */
function parseEnvFile(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split("\n")) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not a NAME=value line: ${line}`);
    out.push([m[1]!, m[2]!]);
  }
  return out;
}

/**
 * The variable names a compose file passes through `environment:` (map or list form) and
 * `${VAR}` interpolation — a small line parser, enough for this file's plain YAML.
 */
function composeVariables(text: string): { environment: string[]; interpolated: string[] } {
  const environment = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)environment:\s*$/.exec(lines[i]!);
    if (!m) continue;
    const indent = m[1]!.length;
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j]!;
      if (/^\s*(#|$)/.test(line)) continue;
      if (line.length - line.trimStart().length <= indent) break;
      const entry = /^\s*(?:-\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*[:=]/.exec(line);
      if (entry) environment.add(entry[1]!);
    }
  }
  const interpolated = new Set<string>();
  for (const m of text.matchAll(/(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) interpolated.add(m[1]!);
  return { environment: [...environment].sort(), interpolated: [...interpolated].sort() };
}

describe(".env.example and the compose file against the config schema", () => {
  const entries = parseEnvFile(envExampleText);
  const names = entries.map(([k]) => k);

  it(".env.example lists exactly the schema's variables, once each", () => {
    expect([...names].sort()).toEqual(SCHEMA);
    expect(new Set(names).size).toBe(names.length);
  });

  it(".env.example's values are the schema's defaults (or empty where there is none), each explained by a comment", () => {
    const defaults = loadConfig({}) as unknown as Record<string, unknown>;
    const lines = envExampleText.split("\n");
    for (const [name, value] of entries) {
      const parsed = loadConfig({ [name]: value }) as unknown as Record<string, unknown>;
      expect(parsed[name], name).toEqual(defaults[name]);
      const at = lines.findIndex((l) => l.startsWith(`${name}=`));
      expect(lines[at - 1], `a comment above ${name}`).toMatch(/^# \S/);
    }
  });

  it("every variable the compose file passes is a setting of the schema", () => {
    const { environment, interpolated } = composeVariables(composeText);
    expect(environment.length).toBeGreaterThan(0);
    for (const v of [...environment, ...interpolated]) expect(SCHEMA, `${v} is passed by docker-compose.yml`).toContain(v);
  });

  it("the line parser sees environment keys in both forms", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation syntax, on purpose
    const sample = "services:\n  a:\n    environment:\n      FOO: 1\n      - BAR=2\n    image: x\n  b:\n    image: ${BAZ:-y}\n";
    expect(composeVariables(sample)).toEqual({ environment: ["BAR", "FOO"], interpolated: ["BAZ"] });
  });
});

// ---------------------------------------------------------------------------------------------

type ComposeService = {
  image?: string;
  build?: { target?: string };
  command?: string[];
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string | null>;
  volumes?: Array<string | { source?: string; target?: string }>;
  healthcheck?: { test?: string[] };
  deploy?: { resources?: { reservations?: { devices?: Array<Record<string, unknown>> } } };
  depends_on?: Record<string, { condition?: string }>;
  stop_grace_period?: string;
};
type ComposeModel = { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

/** The Compose CLI available here: the v2 plugin or the v1 Python `docker-compose`. */
function findCompose(): { cmd: string; args: string[]; json: boolean } | undefined {
  const v2 = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
  if (v2.status === 0) return { cmd: "docker", args: ["compose"], json: true };
  const v1 = spawnSync("docker-compose", ["version"], { encoding: "utf8" });
  if (v1.status === 0) return { cmd: "docker-compose", args: [], json: false };
  return undefined;
}

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** `compose config` in a copy of the project's compose file with .env.example as .env. */
function composeConfig(composeYaml: string): { status: number | null; stdout: string; stderr: string; model?: ComposeModel } {
  const compose = findCompose();
  if (!compose) {
    throw new Error(
      "no Compose CLI here: install Debian's docker-compose (apt-get install -y docker-compose) or the docker compose plugin; it validates the file offline, no engine needed",
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qb-compose-"));
  tmpDirs.push(dir);
  fs.writeFileSync(path.join(dir, "docker-compose.yml"), composeYaml);
  fs.copyFileSync(path.join(ROOT, ".env.example"), path.join(dir, ".env"));
  const args = [...compose.args, "-f", "docker-compose.yml", "config", ...(compose.json ? ["--format", "json"] : [])];
  const r = spawnSync(compose.cmd, args, { cwd: dir, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: dir } });
  if (r.status !== 0) return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  const json = compose.json
    ? r.stdout
    : execFileSync("python3", ["-c", "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], {
        input: r.stdout,
        encoding: "utf8",
      });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, model: JSON.parse(json) as ComposeModel };
}

/** What `npm run <script>` runs (`tsx file`), as one node process: `node --import tsx file`. */
function viaNode(script: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const [bin, ...args] = pkg.scripts[script]!.split(/\s+/);
  expect(bin).toBe("tsx");
  return ["node", "--import", "tsx", ...args];
}

const volumeTargets = (s: ComposeService) =>
  (s.volumes ?? []).map((v) => (typeof v === "string" ? v.split(":").slice(0, 2).join(":") : `${v.source}:${v.target}`));

describe("docker compose config (offline validation)", () => {
  let result: ReturnType<typeof composeConfig>;
  let model: ComposeModel | undefined;
  beforeAll(() => {
    result = composeConfig(composeText);
    model = result.model;
  });

  it("accepts docker-compose.yml", () => {
    expect(result.stderr.replace(/^.*(WARN|warn).*$/gm, "").trim()).toBe("");
    expect(result.status).toBe(0);
    expect(Object.keys(model!.services).sort()).toEqual(["bot", "redis", "worker"]);
  });

  it("rejects a broken file (the validator is real)", () => {
    const broken = composeText.replace("count: 1", "count: [one]");
    expect(broken).not.toBe(composeText);
    const r = composeConfig(broken);
    expect(r.status).not.toBe(0);
  });

  it("runs Redis with AOF (fsync every second), noeviction, a healthcheck and a volume", () => {
    const redis = model!.services.redis!;
    const cmd = (redis.command ?? []).join(" ");
    expect(cmd).toContain("--appendonly yes");
    expect(cmd).toContain("--appendfsync everysec");
    expect(cmd).toContain("--maxmemory-policy noeviction");
    expect(redis.healthcheck?.test?.join(" ")).toContain("redis-cli ping");
    expect(volumeTargets(redis)).toContain("redis-data:/data");
    expect(redis.ports ?? []).toEqual([]); // not exposed on the host
  });

  it("runs the adapters with external workers, after Redis is healthy", () => {
    const bot = model!.services.bot!;
    expect(bot.build?.target).toBe("app");
    expect(bot.command).toEqual(viaNode("start")); // `npm start` without npm, which does not pass SIGTERM on
    expect(bot.environment?.EXTERNAL_WORKERS).toBe("true");
    expect(bot.depends_on?.redis?.condition).toBe("service_healthy");
  });

  it("runs workers that reserve one NVIDIA GPU, share the models volume and can be scaled", () => {
    const worker = model!.services.worker!;
    expect(worker.build?.target).toBe("worker");
    expect(worker.command).toEqual(viaNode("worker"));
    const devices = worker.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ driver: "nvidia", count: 1, capabilities: ["gpu"] });
    expect(volumeTargets(worker)).toContain("models:/app/models");
    expect(worker.environment?.MODELS_DIR).toBe("/app/models");
    expect(model!.volumes).toHaveProperty("models");
    // --scale worker=N: no fixed container name, no host ports.
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports ?? []).toEqual([]);
    expect(worker.depends_on?.redis?.condition).toBe("service_healthy");
  });

  it("passes each app container exactly the schema's variables (.env plus overrides), and they parse", () => {
    for (const name of ["bot", "worker"]) {
      const s = model!.services[name]!;
      const env = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v ?? ""]));
      expect(Object.keys(env).sort(), name).toEqual(SCHEMA);
      const config = loadConfig(env);
      expect(config.REDIS_URL).toBe("redis://redis:6379");
      expect(config.METRICS_HOST).toBe("0.0.0.0");
      // The healthcheck probes /readyz on METRICS_PORT, so it must be set in the container.
      expect(config.METRICS_PORT, name).toBeGreaterThan(0);
      expect(s.healthcheck?.test?.join(" "), name).toContain("/readyz");
      // Running replies get SHUTDOWN_GRACE_MS before Docker's SIGKILL.
      expect(Number.parseInt(s.stop_grace_period ?? "10", 10) * 1000, name).toBeGreaterThan(config.SHUTDOWN_GRACE_MS);
    }
  });
});

describe("Dockerfile (no engine here: checked as text)", () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ from: m[1]!, name: m[2] }));

  it("builds on Debian bookworm Node 22 (not alpine) with the targets compose uses", () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
    expect(dockerfile).not.toMatch(/alpine/i);
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(["app", "worker"]));
    expect(composeText).toMatch(/target: app/);
    expect(composeText).toMatch(/target: worker/);
  });

  it("installs from the lockfile and copies only what exists", () => {
    expect(dockerfile).toMatch(/npm ci --include=dev/); // tsx (a devDependency) runs the TypeScript
    for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gm)) {
      for (const src of m[1]!.trim().split(/\s+/)) expect(fs.existsSync(path.join(ROOT, src)), `COPY ${src}`).toBe(true);
    }
  });

  it("starts what `npm start` and `npm run worker` run, as one node process", () => {
    const cmds = [...dockerfile.matchAll(/^CMD\s+(\[.*\])$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
    expect(cmds).toEqual([viaNode("start"), viaNode("worker")]);
  });
});
