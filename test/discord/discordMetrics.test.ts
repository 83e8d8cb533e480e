/**
 * The Discord reply path as `npm start` runs it with METRICS_PORT set: the worker's sinks from
 * platformSinks, wrapped by Metrics.instrumentSink. The wrapper once dropped the options of
 * `post`, so a follow-up posted by the final delivery kept its Stop button and never got
 * Regenerate.
 *
 * To make the final delivery the one that posts the overflow, the worker's REST calls go through a
 * small proxy that holds its streamed (not final) writes until the model has finished: the first
 * streamed edit is still in flight when the answer is complete, so nothing else is sent before the
 * final delivery. Setup and helpers: discordTestbed.ts.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { platformSinks } from "../../bin/wiring/platformSinks.ts";
import type { Config } from "../../src/config.ts";
import { METRIC_NAMES } from "../../src/ops/metrics.ts";
import { type Ops, startOps } from "../../src/ops/startOps.ts";
import { splitMessage } from "../../src/text/splitMessage.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { CH, customIds, discordTestbed, expectedContent } from "./discordTestbed.ts";

/** Enough tokens for an answer longer than one Discord message. */
const BUDGET = 700;

interface HoldingProxy {
  /** The API base to give the worker (DISCORD_API_URL). */
  url: string;
  /** Every request that went through: method, path, and whether it was held. */
  seen: Array<{ method: string; path: string; held: boolean }>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * A pass-through to the simulator that holds a streamed write — an edit without `components`, or
 * a post with a Stop button — until `release()` resolves. Final writes are never held.
 */
async function holdingProxy(apiBase: string, release: () => Promise<void>): Promise<HoldingProxy> {
  const origin = new URL(apiBase).origin;
  const seen: HoldingProxy["seen"] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const json = body.length > 0 ? (JSON.parse(body.toString("utf8")) as { components?: unknown[] }) : {};
      const streamed =
        (req.method === "PATCH" && json.components === undefined) ||
        (req.method === "POST" && customIds({ components: json.components ?? [] }).some((id) => id.startsWith("stop:")));
      seen.push({ method: req.method ?? "", path: req.url ?? "", held: streamed });
      if (streamed) await release();
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined && !["host", "connection", "content-length"].includes(k)) headers.set(k, String(v));
      }
      const answer = await fetch(`${origin}${req.url}`, {
        method: req.method,
        headers,
        body: body.length > 0 ? new Uint8Array(body) : undefined,
      });
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (!["content-encoding", "content-length", "transfer-encoding", "connection"].includes(k)) out[k] = v;
      });
      res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
    })().catch((err: unknown) => res.writeHead(502).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${new URL(apiBase).pathname}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const tb = discordTestbed();
let ops: Ops;
let proxy: HoldingProxy;
let cfg: Config;
/** Resolves once the current generation is complete (the model produced the whole answer). */
let generatedDone: Promise<void> = Promise.resolve();
let originalGenerate: ModelRunner["generate"];

beforeAll(async () => {
  const started = await startOps({ config: tb.config, logger: tb.h.logger, port: 0 });
  if (!started) throw new Error("startOps gave no metrics with a port set");
  ops = started;
  proxy = await holdingProxy(tb.sim.apiBase, () => generatedDone);
  originalGenerate = tb.runner.generate;
  tb.runner.generate = (params) => {
    const result = originalGenerate.call(tb.runner, params);
    generatedDone = result.then(() => undefined);
    return result;
  };
  cfg = { ...tb.config, MAX_NEW_TOKENS: BUDGET, DISCORD_API_URL: proxy.url };
  await tb.useWorker(cfg, { sinks: await platformSinks(cfg, tb.h.logger, tb.h.redis, tb.h.keys), metrics: ops.metrics });
});

afterAll(async () => {
  await tb.stopWorkers();
  if (originalGenerate) tb.runner.generate = originalGenerate;
  await proxy?.close();
  await ops?.close();
});

describe("a worker with metrics (METRICS_PORT set)", () => {
  it("a follow-up posted by the final delivery gets Regenerate, and no message keeps a Stop button", async () => {
    const u = tb.say(CH.metrics, "write a lot");
    const e = await tb.generated(`discord-${u.id}`, 60_000);
    expect(e.targets.length).toBeGreaterThanOrEqual(2);
    const parts = e.targets.map((t) => tb.sim.message(t.messageId)!);
    // The path under test: a streamed edit was held, and every follow-up was created by the final
    // delivery (created once, never edited).
    expect(proxy.seen.filter((r) => r.held && r.method === "PATCH")).toHaveLength(1);
    for (const m of parts.slice(1)) expect(tb.sim.history(m.id).map((v) => v.kind)).toEqual(["create"]);

    const expected = splitMessage(e.result.text, 1800);
    expect(parts.map((m) => m.content)).toEqual([
      ...expected.slice(0, -1),
      `${expected.at(-1)}${expectedContent(e, BUDGET).slice(e.result.text.length)}`,
    ]);
    expect(customIds(parts.at(-1)!)).toEqual([`regen:discord-${u.id}`]);
    for (const m of parts.slice(0, -1)) expect(customIds(m)).toEqual([]);
    expect(parts.flatMap(customIds).filter((id) => id.startsWith("stop:"))).toEqual([]);

    // The edits and the posts went through the metrics wrapper.
    const scraped = await (await fetch(`${ops.server.url}/metrics`)).text();
    const count = (kind: string) => {
      const line = scraped
        .split("\n")
        .find((l) => l.startsWith(`${METRIC_NAMES.editsSent}{`) && l.includes(`kind="${kind}"`) && l.includes('platform="discord"'));
      return Number(line?.split(" ").at(-1));
    };
    expect(count("post")).toBe(parts.length - 1);
    expect(count("edit")).toBe(2);
  });
});
