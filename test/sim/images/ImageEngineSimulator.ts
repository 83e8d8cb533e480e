/**
 * A loopback Stable Diffusion server for tests, speaking both contracts the bot drives:
 *
 * - AUTOMATIC1111's API (modules/api/api.py, models.py): `POST /sdapi/v1/txt2img` → `{images:
 *   [base64 PNG], parameters, info: "<json>"}`, `GET /sdapi/v1/progress?skip_current_image=` →
 *   `{progress, eta_relative, state: {sampling_step, sampling_steps, job_count, interrupted…},
 *   current_image, textinfo}`, `POST /sdapi/v1/interrupt` (txt2img then answers with the partial
 *   image), `GET /sdapi/v1/sd-models`. One job at a time, as the web UI's queue lock does.
 * - The OpenAI images API as stable-diffusion.cpp's sd-server and LocalAI serve it:
 *   `POST /v1/images/generations` → `{created, data: [{b64_json}]}` (or `url`), reading seed,
 *   steps and negative prompt from a `<sd_cpp_extra_args>` block or LocalAI's `step`/`seed`/`a|b`;
 *   `GET /v1/models`.
 *
 * Images are real PNGs (png.ts) of a seeded pattern that sharpens step by step (pattern.ts).
 * Faults on demand: slowness, a stall that only an interrupt ends, errors (500, 503 loading, 401),
 * bodies that are not JSON, dropped connections, hangs, a progress endpoint that starts failing.
 * Everything is recorded: requests (with bodies and headers) and generations.
 */
import { randomInt } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { renderStep } from "./pattern.ts";
import { encodePng } from "./png.ts";
import type { ImageEngineSimOptions, SimFault, SimGeneration, SimRequest, SimRoute } from "./types.ts";

export type * from "./types.ts";

const ROUTES: Record<string, SimRoute> = {
  "POST /sdapi/v1/txt2img": "txt2img",
  "GET /sdapi/v1/progress": "progress",
  "POST /sdapi/v1/interrupt": "interrupt",
  "GET /sdapi/v1/sd-models": "sd-models",
  "POST /v1/images/generations": "generations",
  "GET /v1/models": "models",
};

interface Job {
  gen: SimGeneration;
  interrupted: boolean;
  /** Step of the newest preview, -1 before the first. */
  previewStep: number;
  startedAt: number;
  wake: () => void;
}

export class ImageEngineSimulator {
  /** `http://127.0.0.1:PORT`: the AUTOMATIC1111 address (IMAGE_API_URL for a1111). */
  readonly url: string;
  /** `http://127.0.0.1:PORT/v1`: the OpenAI API base (IMAGE_API_URL for openai). */
  readonly openaiUrl: string;
  readonly requests: SimRequest[] = [];
  readonly generations: SimGeneration[] = [];
  options: ImageEngineSimOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #faults: { route: SimRoute; fault: SimFault; times: number }[] = [];
  readonly #hangs = new Set<() => void>();
  readonly #files = new Map<string, Buffer>();
  #job?: Job;
  #lock: Promise<void> = Promise.resolve();
  #progressAnswered = 0;
  #stopped = false;

  private constructor(server: Server, options: ImageEngineSimOptions) {
    this.#server = server;
    this.options = options;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.openaiUrl = `${this.url}/v1`;
    server.on("connection", (s) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
  }

  static async start(options: ImageEngineSimOptions = {}): Promise<ImageEngineSimulator> {
    let sim: ImageEngineSimulator | undefined;
    const server = createServer((req, res) => void sim!.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    sim = new ImageEngineSimulator(server, options);
    return sim;
  }

  /** Changes options while running (slowness, stalls, progress failures…). */
  set(options: Partial<ImageEngineSimOptions>): void {
    this.options = { ...this.options, ...options };
    // progressFailAfter counts the polls answered from now on.
    if ("progressFailAfter" in options) this.#progressAnswered = 0;
    this.#job?.wake();
  }

  /** The next `times` requests to `route` get `fault` instead of an answer. */
  failNext(route: SimRoute, fault: SimFault, times = 1): void {
    this.#faults.push({ route, fault, times });
  }

  requestsTo(route: SimRoute): SimRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  /** Interrupts received (`POST /sdapi/v1/interrupt`). */
  get interrupts(): number {
    return this.requestsTo("interrupt").length;
  }

  /** The generation running now, if any. */
  get running(): SimGeneration | undefined {
    return this.#job?.gen;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wake of this.#hangs) wake();
    this.#job?.wake();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const route: SimRoute | "unknown" =
      ROUTES[`${req.method} ${url.pathname}`] ?? (req.method === "GET" && url.pathname.startsWith("/v1/files/") ? "files" : "unknown");
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    this.requests.push({ route, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, at: Date.now() });
    if (route === "unknown") return json(res, 404, { detail: "Not Found" });
    const auth = this.options.authorization;
    if (auth && !auth.includes(req.headers.authorization ?? "")) return json(res, 401, { detail: "Incorrect username or password" });
    const fault = this.#takeFault(route);
    if (fault && (await this.#applyFault(fault, res))) return;
    switch (route) {
      case "txt2img":
        return this.#txt2img(body, res);
      case "progress":
        return this.#progress(url, res);
      case "interrupt":
        if (this.#job) this.#job.interrupted = true;
        this.#job?.wake();
        return json(res, 200, {});
      case "sd-models":
        return json(res, 200, [
          {
            title: "sim.safetensors [0000000000]",
            model_name: "sim",
            hash: "0000000000",
            sha256: null,
            filename: "/models/sim.safetensors",
            config: null,
          },
        ]);
      case "generations":
        return this.#generations(body, res);
      case "models":
        return json(res, 200, { data: [{ id: "sd-cpp-local", object: "model", owned_by: "local" }] });
      case "files": {
        const file = this.#files.get(url.pathname);
        if (!file) return json(res, 404, { error: "no such file" });
        res.writeHead(200, { "content-type": "image/png" }).end(file);
        return;
      }
    }
  }

  #takeFault(route: SimRoute): SimFault | undefined {
    if (route === "progress" && this.options.progressFailAfter !== undefined && this.#progressAnswered >= this.options.progressFailAfter) {
      return this.options.progressFault ?? { status: 500, body: { error: "RuntimeError", detail: "progress is broken" } };
    }
    const i = this.#faults.findIndex((f) => f.route === route);
    if (i < 0) return undefined;
    const f = this.#faults[i]!;
    if (--f.times <= 0) this.#faults.splice(i, 1);
    return f.fault;
  }

  /** Answers with the fault; false when the fault was a hang that ended because the stand-in stopped. */
  async #applyFault(fault: SimFault, res: ServerResponse): Promise<boolean> {
    if ("hang" in fault) {
      await new Promise<void>((resolve) => this.#hangs.add(resolve));
      res.destroy();
    } else if ("reset" in fault) res.socket?.destroy();
    else if ("badJson" in fault) res.writeHead(200, { "content-type": "application/json" }).end("<html>Internal error</html>");
    else json(res, fault.status, fault.body ?? { error: `HTTP ${fault.status}` });
    return true;
  }

  /** AUTOMATIC1111's txt2img: one job at a time, steps at stepDelayMs, partial image on interrupt. */
  async #txt2img(body: unknown, res: ServerResponse): Promise<void> {
    const b = (body ?? {}) as Record<string, unknown>;
    const seed = typeof b.seed === "number" && b.seed >= 0 ? b.seed : randomInt(0, 2 ** 32);
    const gen: SimGeneration = {
      api: "a1111",
      prompt: String(b.prompt ?? ""),
      negativePrompt: String(b.negative_prompt ?? ""),
      width: num(b.width, 512),
      height: num(b.height, 512),
      steps: num(b.steps, 20),
      seed,
      ...(typeof b.sampler_name === "string" ? { sampler: b.sampler_name } : {}),
      step: 0,
      status: "queued",
    };
    const png = await this.#run(gen, res);
    if (!png) return;
    const info = {
      prompt: gen.prompt,
      all_prompts: [gen.prompt],
      negative_prompt: gen.negativePrompt,
      seed: gen.seed,
      all_seeds: [gen.seed],
      width: gen.width,
      height: gen.height,
      sampler_name: gen.sampler ?? "Euler",
      cfg_scale: 7,
      steps: gen.steps,
      batch_size: 1,
      sd_model_name: "sim",
      infotexts: [
        `${gen.prompt}\nSteps: ${gen.steps}, Sampler: ${gen.sampler ?? "Euler"}, Seed: ${gen.seed}, Size: ${gen.width}x${gen.height}`,
      ],
    };
    json(res, 200, { images: [png.toString("base64")], parameters: b, info: JSON.stringify(info) });
  }

  /** The OpenAI route, reading the extras as sd-server (`<sd_cpp_extra_args>`) and LocalAI (`step`, `seed`, `a|b`) do. */
  async #generations(body: unknown, res: ServerResponse): Promise<void> {
    const b = (body ?? {}) as Record<string, unknown>;
    let prompt = String(b.prompt ?? "");
    let negative = "";
    let steps = 20;
    let seed = 42;
    let sampler: string | undefined;
    const m = /<sd_cpp_extra_args>(.*?)<\/sd_cpp_extra_args>/.exec(prompt);
    if (m) {
      prompt = prompt.replace(/<sd_cpp_extra_args>(.*?)<\/sd_cpp_extra_args>/g, "");
      let extra: Record<string, unknown>;
      try {
        extra = JSON.parse(m[1]!) as Record<string, unknown>;
      } catch {
        return json(res, 400, { error: "invalid sd_cpp_extra_args" });
      }
      const sp = (extra.sample_params ?? {}) as Record<string, unknown>;
      steps = num(sp.sample_steps, num(extra.steps, steps));
      seed = num(extra.seed, seed);
      negative = typeof extra.negative_prompt === "string" ? extra.negative_prompt : "";
      const method = sp.sample_method ?? extra.sample_method;
      if (typeof method === "string") sampler = method;
    } else {
      if (prompt.includes("|")) [prompt, negative] = [prompt.slice(0, prompt.indexOf("|")), prompt.slice(prompt.indexOf("|") + 1)];
      steps = num(b.step, steps);
      seed = num(b.seed, seed);
    }
    if (prompt.trim() === "") return json(res, 400, { error: "prompt required" });
    const [w, h] = String(b.size ?? "512x512")
      .split("x")
      .map(Number);
    const gen: SimGeneration = {
      api: "openai",
      prompt: prompt.trim(),
      negativePrompt: negative,
      width: w || 512,
      height: h || 512,
      steps,
      seed,
      ...(sampler ? { sampler } : {}),
      ...(typeof b.model === "string" ? { model: b.model } : {}),
      step: 0,
      status: "queued",
    };
    const png = await this.#run(gen, res);
    if (!png) return;
    if (this.options.openaiUrlResponses) {
      const path = `/v1/files/${this.#files.size + 1}.png`;
      this.#files.set(path, png);
      return json(res, 200, { created: Math.floor(Date.now() / 1000), data: [{ url: path }] });
    }
    json(res, 200, { created: Math.floor(Date.now() / 1000), output_format: "png", data: [{ b64_json: png.toString("base64") }] });
  }

  /**
   * Runs a generation under the lock: steps at stepDelayMs, pausing at stallAtStep until
   * interrupted. Returns the PNG (partial when interrupted), or undefined when the client left or
   * the stand-in stopped.
   */
  async #run(gen: SimGeneration, res: ServerResponse): Promise<Buffer | undefined> {
    this.generations.push(gen);
    let gone = false;
    // The client went away (aborted fetch) before the answer was written.
    res.once("close", () => {
      if (res.writableFinished) return;
      gone = true;
      if (this.#job?.gen === gen) this.#job.wake();
    });
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((r) => (release = r));
    await previous;
    try {
      if (gone || this.#stopped) {
        gen.status = "abandoned";
        return undefined;
      }
      const job: Job = { gen, interrupted: false, previewStep: -1, startedAt: Date.now(), wake: () => {} };
      this.#job = job;
      gen.status = "running";
      while (gen.step < gen.steps && !job.interrupted) {
        const stall = this.options.stallAtStep !== undefined && gen.step >= this.options.stallAtStep;
        await new Promise<void>((resolve) => {
          const timer = stall ? undefined : setTimeout(resolve, this.options.stepDelayMs ?? 5);
          job.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (gone || this.#stopped) {
          gen.status = "abandoned";
          return undefined;
        }
        if (job.interrupted || (this.options.stallAtStep !== undefined && gen.step >= this.options.stallAtStep)) continue;
        gen.step++;
        if (gen.step % (this.options.previewEvery ?? 1) === 0) job.previewStep = gen.step;
      }
      gen.status = job.interrupted ? "interrupted" : "done";
      return encodePng(renderStep(gen.seed, gen.width, gen.height, gen.step, gen.steps), {
        parameters: `${gen.prompt}\nSteps: ${gen.steps}, Seed: ${gen.seed}`,
      });
    } finally {
      this.#job = undefined;
      release();
    }
  }

  /** AUTOMATIC1111's progressapi: idle state when nothing runs, else step, ETA and the latest preview. */
  #progress(url: URL, res: ServerResponse): void {
    this.#progressAnswered++;
    const job = this.#job;
    const base = { skipped: false, stopping_generation: false, job_timestamp: "20250101000000" };
    if (!job) {
      json(res, 200, {
        progress: 0,
        eta_relative: 0,
        state: { ...base, interrupted: false, job: "", job_count: 0, job_no: 0, sampling_step: 0, sampling_steps: 0 },
        current_image: null,
        textinfo: null,
      });
      return;
    }
    const { gen } = job;
    const progress = Math.min(1, 0.01 + gen.step / gen.steps);
    const elapsed = (Date.now() - job.startedAt) / 1000;
    const skip = url.searchParams.get("skip_current_image") === "true";
    const preview =
      !skip && job.previewStep > 0
        ? encodePng(renderStep(gen.seed, gen.width, gen.height, job.previewStep, gen.steps)).toString("base64")
        : null;
    json(res, 200, {
      progress,
      eta_relative: elapsed / progress - elapsed,
      state: {
        ...base,
        interrupted: job.interrupted,
        job: "scripts_txt2img",
        job_count: 1,
        job_no: 0,
        sampling_step: gen.step,
        sampling_steps: gen.steps,
      },
      current_image: preview,
      textinfo: null,
    });
  }
}

function num(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", () => resolve(""));
  });
}
