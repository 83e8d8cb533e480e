/**
 * docker-compose.yml, .env.example and the config schema agree, and Compose accepts the file —
 * validated offline, without a Docker engine: always against the Compose Specification's JSON
 * schema, and also by the Compose CLI (`docker compose config` v2, or Debian's `docker-compose`
 * v1) when one is installed (CI installs it). Both paths carry the same structural assertions.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configShape, loadConfig } from "../../src/config.ts";
import { workerRoles } from "../../src/images/imageQueueSettings.ts";
import {
  type ComposeModel,
  type ComposeService,
  type ComposeValidator,
  cliValidator,
  findComposeCli,
  interpolate,
  parseEnvFile,
  resolveCompose,
  SCHEMA_PACKAGE_VERSION,
  schemaValidator,
} from "../helpers/composeValidators.ts";
import { ROOT } from "../helpers/runCli.ts";

const SCHEMA = Object.keys(configShape).sort();
const composeText = fs.readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8");
const envExampleText = fs.readFileSync(path.join(ROOT, ".env.example"), "utf8");

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

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

const cli = findComposeCli();
const validators: ComposeValidator[] = [schemaValidator(), ...(cli ? [cliValidator(cli, tmpDirs)] : [])];
if (!cli) {
  process.stderr.write(
    "compose.test: no Compose CLI here (docker compose / docker-compose): docker-compose.yml is validated against the Compose Specification schema only\n",
  );
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

describe("the validators", () => {
  it(`always include the schema (${SCHEMA_PACKAGE_VERSION}), and the Compose CLI whenever one is installed`, () => {
    expect(validators[0]!.name).toMatch(/Compose Specification schema/);
    expect(validators.some((v) => /Compose CLI/.test(v.name))).toBe(cli !== undefined);
  });

  it("the schema path interpolates from .env and merges env_file under environment, as compose config does", () => {
    const text = "A=1\nB=from-env\nC=\n";
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation syntax, on purpose
    expect(interpolate("${A}-$B-${C:-dflt}-${C-kept}-${D:-none}-$$X", Object.fromEntries(parseEnvFile(text)))).toBe(
      "1-from-env-dflt--none-$X",
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation syntax, on purpose
    const doc = { services: { s: { env_file: ".env", environment: { B: "override", E: null }, image: "img:${A}" } } };
    const model = resolveCompose(doc, text);
    expect(model.services.s).toEqual({ environment: { A: "1", B: "override", C: "", E: null }, image: "img:1" });
    expect(() => resolveCompose({ services: { s: { env_file: "other.env" } } }, text)).toThrow(/other.env/);
  });
});

describe.each(validators)("docker-compose.yml checked by $name (offline validation)", (validator) => {
  const result = validator.validate(composeText, envExampleText);
  const model = result.model as ComposeModel;

  it("accepts docker-compose.yml", () => {
    expect(result.messages.replace(/^.*(WARN|warn).*$/gm, "").trim()).toBe("");
    expect(result.ok).toBe(true);
    // Without a profile asked for: Redis, the bot, the workers.
    const always = Object.entries(model.services).filter(([, s]) => !s.profiles?.length);
    expect(always.map(([name]) => name).sort()).toEqual(["bot", "redis", "worker"]);
  });

  it("rejects a broken file (the validator is real)", () => {
    const broken = composeText.replace("count: 1", "count: [one]");
    expect(broken).not.toBe(composeText);
    const r = validator.validate(broken, envExampleText);
    expect(r.ok).toBe(false);
    expect(r.messages).toMatch(/count/);
    // A misspelt option is refused too, not ignored.
    const typo = composeText.replace(
      "    restart: unless-stopped\n    # Not published",
      "    restarts: unless-stopped\n    # Not published",
    );
    expect(typo).not.toBe(composeText);
    const t = validator.validate(typo, envExampleText);
    expect(t.ok).toBe(false);
    expect(t.messages).toMatch(/restarts|additional/);
  });

  it("runs Redis with AOF (fsync every second), noeviction, a healthcheck and a volume", () => {
    const redis = model.services.redis!;
    const cmd = (redis.command ?? []).join(" ");
    expect(cmd).toContain("--appendonly yes");
    expect(cmd).toContain("--appendfsync everysec");
    expect(cmd).toContain("--maxmemory-policy noeviction");
    expect(redis.healthcheck?.test?.join(" ")).toContain("redis-cli ping");
    expect(volumeTargets(redis)).toContain("redis-data:/data");
    expect(redis.ports ?? []).toEqual([]); // not exposed on the host
  });

  it("runs the adapters with external workers, after Redis is healthy", () => {
    const bot = model.services.bot!;
    expect(bot.build?.target).toBe("app");
    expect(bot.command).toEqual(viaNode("start")); // `npm start` without npm, which does not pass SIGTERM on
    expect(bot.environment?.EXTERNAL_WORKERS).toBe("true");
    expect(bot.depends_on?.redis?.condition).toBe("service_healthy");
  });

  it("runs workers that reserve one NVIDIA GPU, share the models volume and can be scaled", () => {
    const worker = model.services.worker!;
    expect(worker.build?.target).toBe("worker");
    expect(worker.command).toEqual(viaNode("worker"));
    const devices = worker.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ driver: "nvidia", count: 1, capabilities: ["gpu"] });
    expect(volumeTargets(worker)).toContain("models:/app/models");
    expect(worker.environment?.MODELS_DIR).toBe("/app/models");
    expect(model.volumes).toHaveProperty("models");
    // --scale worker=N: no fixed container name, no host ports.
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports ?? []).toEqual([]);
    expect(worker.depends_on?.redis?.condition).toBe("service_healthy");
  });

  it("offers an image engine stub behind the `images` profile: one GPU, a healthcheck, not published, settings that parse", () => {
    const engine = model.services["image-engine"];
    // `docker compose config` (v2) leaves out services of profiles not asked for; the schema path and v1 keep them.
    if (engine === undefined) {
      expect(validator.name).toMatch(/docker compose config/);
      return;
    }
    expect(engine.profiles).toEqual(["images"]);
    expect(engine.image).toMatch(/^\S+:\S+$/);
    const devices = engine.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ driver: "nvidia", count: 1, capabilities: ["gpu"] });
    expect(engine.healthcheck?.test?.join(" ")).toContain("/readyz");
    expect(engine.ports ?? []).toEqual([]);
    expect(volumeTargets(engine)).toContain("image-models:/models");
    expect(model.volumes).toHaveProperty("image-models");
    // Optional: nothing waits for it (it may not be started).
    for (const name of ["bot", "worker"]) expect(Object.keys(model.services[name]!.depends_on ?? {})).not.toContain("image-engine");
    // The settings its comment tells operators to put in .env are valid, and make workers serve images.
    const block = composeText.slice(composeText.indexOf("# An image engine for /imagine"), composeText.indexOf("  image-engine:"));
    const settings = Object.fromEntries([...block.matchAll(/\b(IMAGE_[A-Z_]+)=([^,\s]+)/g)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(settings).sort()).toEqual(["IMAGE_API_URL", "IMAGE_ENGINE", "IMAGE_MODEL", "IMAGE_OPENAI_DIALECT"]);
    const config = loadConfig(settings);
    expect(config.IMAGE_API_URL).toBe("http://image-engine:8080");
    expect(workerRoles(config)).toEqual(["text", "images"]);
  });

  it("offers llama-server behind the `engine` profile (one GPU, a healthcheck, not published) and a worker in front of it", () => {
    const server = model.services["llama-server"];
    const worker = model.services["engine-worker"];
    if (server === undefined || worker === undefined) {
      expect(validator.name).toMatch(/docker compose config/);
      return;
    }
    expect(server.profiles).toEqual(["engine"]);
    expect(server.image).toMatch(/^ghcr\.io\/ggml-org\/llama\.cpp:server-cuda$/);
    const devices = server.deploy?.resources?.reservations?.devices ?? [];
    expect(devices[0]).toMatchObject({ driver: "nvidia", count: 1, capabilities: ["gpu"] });
    expect(server.healthcheck?.test?.join(" ")).toContain("/health");
    expect(server.ports ?? []).toEqual([]);
    const args = (server.command ?? []).join(" ");
    expect(args).toMatch(/--port 8080/);
    expect(args).toMatch(/--parallel (\d+)/);
    expect(volumeTargets(server)).toContain("engine-models:/root/.cache/llama.cpp");
    // The worker: the app image (no GPU), ENGINE=openai at the server, exactly the schema's variables.
    expect(worker.profiles).toEqual(["engine"]);
    expect(worker.command).toEqual(viaNode("worker"));
    expect(worker.deploy?.resources?.reservations?.devices ?? []).toEqual([]);
    const env = Object.fromEntries(Object.entries(worker.environment ?? {}).map(([k, v]) => [k, v ?? ""]));
    expect(Object.keys(env).sort()).toEqual(SCHEMA);
    const config = loadConfig(env);
    expect(config.ENGINE).toBe("openai");
    expect(config.OPENAI_BASE_URL).toBe("http://llama-server:8080/v1");
    expect(config.WORKER_CONCURRENCY).toBe(Number(/--parallel (\d+)/.exec(args)![1]));
    expect(worker.depends_on?.redis?.condition).toBe("service_healthy");
    expect(Object.keys(worker.depends_on ?? {})).toContain("llama-server");
    expect(worker.healthcheck?.test?.join(" ")).toContain("/readyz");
    // The default services do not wait for it.
    for (const name of ["bot", "worker"]) expect(Object.keys(model.services[name]!.depends_on ?? {})).not.toContain("llama-server");
  });

  it("passes each app container exactly the schema's variables (.env plus overrides), and they parse", () => {
    for (const name of ["bot", "worker"]) {
      const s = model.services[name]!;
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
