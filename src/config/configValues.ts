/**
 * The building blocks of the configuration schema: how one environment value is parsed (booleans,
 * integers and numbers with ranges, comma lists, URLs). Ranges live with each variable; the
 * settings commands reuse these pieces so a channel setting is checked like its variable.
 */
import fs from "node:fs";
import os from "node:os";
import { z } from "zod";

/** The tutorial's model: Qwen2-0.5B-Instruct, Q4_K_M, resolved by node-llama-cpp on first use. */
export const DEFAULT_MODEL = "hf:Qwen/Qwen2-0.5B-Instruct-GGUF/qwen2-0_5b-instruct-q4_k_m.gguf";

export const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ["1", "0", "true", "false", "yes", "no", "on", "off"].includes(v), "must be true or false")
  .transform((v) => ["1", "true", "yes", "on"].includes(v));
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "must be an integer")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
export const num = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, "must be a number")
    .transform(Number)
    .pipe(z.number().min(min).max(max));
export const list = z.string().transform((v) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);
export const redisUrl = z
  .string()
  .trim()
  .refine((v) => /^rediss?:\/\/.+/.test(v), "must be a redis:// or rediss:// URL");
export const httpUrl = z
  .string()
  .trim()
  .refine((v) => /^https?:\/\/.+/.test(v), "must be an http:// or https:// URL");

/** Physical cores, as far as Node can tell (hyper-threads counted once where /proc says so). */
export function physicalCores(): number {
  const cpus = os.cpus();
  try {
    // Linux: count unique (physical id, core id) pairs.
    const info = fs.readFileSync("/proc/cpuinfo", "utf8");
    const pairs = new Set<string>();
    let phys = "0";
    for (const line of info.split("\n")) {
      const [k, v] = line.split(":").map((s) => s.trim());
      if (k === "physical id") phys = v ?? "0";
      if (k === "core id") pairs.add(`${phys}:${v}`);
    }
    if (pairs.size > 0) return Math.min(pairs.size, cpus.length);
  } catch {
    /* not Linux */
  }
  return Math.max(1, cpus.length);
}
