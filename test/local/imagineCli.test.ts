/**
 * `npm run imagine` as a real process against the engine stand-in, through the image queue with
 * its in-process image worker: progress on stderr, the PNG written to --out and its path on
 * stdout (exit 0); bad options and no engine refused (exit 2); an engine failure (exit 1); the
 * picture remembered in a named room.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGINE_TEXT } from "../../src/images/imagineText.ts";
import { ImageHarness, imageTestConfig } from "../helpers/imageHarness.ts";
import { runCli } from "../helpers/runCli.ts";
import { ImageEngineSimulator } from "../sim/images/ImageEngineSimulator.ts";
import { renderClean } from "../sim/images/pattern.ts";
import { decodePng, meanAbsDiff } from "../sim/images/png.ts";

let sim: ImageEngineSimulator;
let h: ImageHarness;
let env: Record<string, string>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qb-imagine-"));

beforeAll(async () => {
  sim = await ImageEngineSimulator.start({ stepDelayMs: 40 });
  h = new ImageHarness(imageTestConfig());
  env = {
    REDIS_PREFIX: h.config.REDIS_PREFIX,
    IMAGE_ENGINE: "a1111",
    IMAGE_API_URL: sim.url,
    IMAGE_PREVIEW_INTERVAL_MS: "100",
    IMAGE_SIZES: "64x64,96x64",
    IMAGE_DEFAULT_SIZE: "64x64",
    IMAGE_MAX_STEPS: "20",
    LOCAL_STREAM_INTERVAL_MS: "20",
  };
});
afterAll(async () => {
  await h?.close();
  await sim?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const imagine = (args: string[], extra: Record<string, string> = {}) => runCli("bin/imagine.ts", args, { env: { ...env, ...extra } });

describe("npm run imagine", () => {
  it("writes the picture to --out, prints its path, shows progress on stderr, and remembers it in the room", async () => {
    const out = path.join(dir, "sub", "moon.png");
    const r = await imagine(["--out", out, "--size", "96x64", "--steps", "12", "--seed", "42", "--room", "cli", "a cat on the moon"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    expect(r.stderr).toContain('Imagining "a cat on the moon" — 96x64, 12 steps, seed 42');
    expect(r.stderr).toMatch(/Generating the image… step \d+\/12/);
    expect(r.stderr).toContain("96×64 · 12 steps · seed 42");
    const png = decodePng(fs.readFileSync(out));
    expect([png.width, png.height]).toEqual([96, 64]);
    expect(meanAbsDiff(png, renderClean(42, 96, 64))).toBe(0);
    expect((await h.turns("local:cli")).map((t) => t.text)).toEqual([
      "/imagine a cat on the moon",
      "[image: 96×64, seed 42, 12 steps] a cat on the moon",
    ]);
  });

  it("refuses options out of range and an empty prompt with exit 2, naming what is allowed", async () => {
    const steps = await imagine(["--steps", "80", "a cat"]);
    expect(steps.code).toBe(2);
    expect(steps.stderr).toContain("Steps must be a whole number from 1 to 20");
    const size = await imagine(["--size", "4000x4000", "a cat"]);
    expect(size.code).toBe(2);
    expect(size.stderr).toContain("choose 64x64 or 96x64");
    const empty = await imagine(["   "]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("nothing to draw");
  });

  it("with no engine configured, says how to set one up (exit 2)", async () => {
    const r = await imagine(["a cat"], { IMAGE_ENGINE: "none" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Image generation is not set up on this bot yet");
    expect(r.stderr).toContain("IMAGE_ENGINE=a1111");
  });

  it("an engine that fails ends with the note and exit 1, writing nothing", async () => {
    sim.failNext("txt2img", { status: 500, body: { error: "RuntimeError" } });
    const out = path.join(dir, "never.png");
    const r = await imagine(["--out", out, "a broken picture"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(IMAGINE_TEXT.failed);
    expect(fs.existsSync(out)).toBe(false);
  });
});
