/**
 * Every way a remote engine fails a reply, and what the worker gets: waits on 429/503 reported and
 * waited out; broken streams (dropped connection, malformed chunk, error event, HTTP 500, early
 * end, stall) as retryable EngineErrors; what no retry cures (over-long prompt, rejected key) as
 * non-retryable ones; a server that vanishes and comes back.
 */
import { afterEach, describe, expect, it } from "vitest";
import { EngineError } from "../../../../src/errors.ts";
import type { EngineWait } from "../../../../workers/engine/Engine.ts";
import type { SimFault } from "../../../sim/openai/OpenAISim.ts";
import { startTestbed, type Testbed, turn } from "./engineTestbed.ts";

let bed: Testbed | undefined;
afterEach(async () => {
  await bed?.stop();
  bed = undefined;
});

async function failure(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(EngineError);
    return err as EngineError;
  }
  throw new Error("expected the reply to fail");
}

describe("openai engine: 429 and 503", () => {
  it("waits out a 429's Retry-After, says so through onWait, then answers", async () => {
    bed = await startTestbed();
    bed.sim.failNext({ kind: "status", status: 429, retryAfter: "1", message: "too many requests" });
    const waits: EngineWait[] = [];
    const result = await bed.engine.generate(turn([], "Hi", { onWait: (w) => waits.push(w) }));
    expect(result.text).toBe("Hello from the sim.");
    expect(waits).toEqual([{ reason: "the model server is busy", retryInMs: 1000, status: 429 }]);
    expect(result.waitedMs).toBeGreaterThanOrEqual(990);
    expect(result.ttftMs).toBeGreaterThanOrEqual(result.waitedMs);
    expect(bed.sim.chats.map((c) => c.status)).toEqual([200]);
    expect(bed.sim.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(2);
  });

  it("waits on a 503 without Retry-After (llama-server loading) with a doubling delay", async () => {
    bed = await startTestbed({}, { fallbackWaitMs: 30 });
    bed.sim.failNext({ kind: "status", status: 503, message: "Loading model", type: "unavailable_error" }, { times: 2 });
    const waits: EngineWait[] = [];
    const result = await bed.engine.generate(turn([], "Hi", { onWait: (w) => waits.push(w) }));
    expect(result.text).toBe("Hello from the sim.");
    expect(waits.map((w) => [w.status, w.retryInMs])).toEqual([
      [503, 30],
      [503, 60],
    ]);
    expect(waits[0]!.reason).toContain("loading");
  });

  it("gives up after the wait limit with a retryable ENGINE_BUSY", async () => {
    bed = await startTestbed({}, { maxWaits: 2, fallbackWaitMs: 10 });
    bed.sim.failNext({ kind: "status", status: 429 }, { times: 5 });
    const err = await failure(bed.engine.generate(turn([], "Hi")));
    expect(err.code).toBe("ENGINE_BUSY");
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(429);
    expect(bed.sim.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(3);
  });

  it("a Stop during the wait ends the reply at once as stopped, without asking again", async () => {
    bed = await startTestbed();
    bed.sim.failNext({ kind: "status", status: 429, retryAfter: "30" });
    const stop = new AbortController();
    const result = await bed.engine.generate(turn([], "Hi", { signal: stop.signal, onWait: () => stop.abort() }));
    expect(result.stopReason).toBe("abort");
    expect(result.text).toBe("");
    expect(bed.sim.requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(1);
  });
});

describe("openai engine: broken streams are retryable", () => {
  const cases: Array<[string, SimFault, RegExp]> = [
    ["connection dropped mid-stream", { kind: "drop", afterPieces: 2 }, /broke|terminated|closed|socket/i],
    ["malformed SSE chunk", { kind: "malformed", afterPieces: 2 }, /malformed|JSON/i],
    ["HTTP 500 error event after some tokens", { kind: "errorEvent", afterPieces: 2, message: "CUDA error: out of memory" }, /CUDA error/],
    ["stream ended without a finish_reason", { kind: "endEarly", afterPieces: 2 }, /ended without finishing/],
  ];
  for (const [name, fault, message] of cases) {
    it(`${name}: ENGINE_STREAM_FAILED, retryable, after the text so far was shown`, async () => {
      // Pieces a few ms apart, so the client has the stream's start before the fault.
      bed = await startTestbed({ pieceDelayMs: 5 });
      bed.sim.failNext(fault);
      const seen: string[] = [];
      const err = await failure(bed.engine.generate(turn([], "Hi", { onText: (t) => seen.push(t) })));
      expect(err.code).toBe("ENGINE_STREAM_FAILED");
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(message);
      expect(seen.at(-1)).toBe("Hello from");
      // The next reply works: nothing is left broken in the engine.
      expect((await bed.engine.generate(turn([], "Again"))).text).toBe("Hello from the sim.");
      expect(bed.engine.readiness()).toBeUndefined();
    });
  }

  it("HTTP 500 before the stream: ENGINE_STREAM_FAILED with the status, retryable", async () => {
    bed = await startTestbed();
    bed.sim.failNext({ kind: "status", status: 500, message: "slot crashed" });
    const err = await failure(bed.engine.generate(turn([], "Hi")));
    expect(err.code).toBe("ENGINE_STREAM_FAILED");
    expect(err.status).toBe(500);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain("slot crashed");
  });

  it("a stream that stalls past the timeout fails (retryable) and the connection is closed", async () => {
    bed = await startTestbed({}, { timeoutMs: 300 });
    bed.sim.failNext({ kind: "stall", afterPieces: 1 });
    const err = await failure(bed.engine.generate(turn([], "Hi")));
    expect(err.code).toBe("ENGINE_STREAM_FAILED");
    expect(err.message).toContain("300 ms");
    const chat = await bed.sim.waitFor(() => bed!.sim.chats[0]?.endedAt !== undefined && bed!.sim.chats[0]);
    expect(chat.clientDisconnected).toBe(true);
  });
});

describe("openai engine: failures no retry cures", () => {
  it("a prompt over the server's context: ENGINE_CONTEXT_EXCEEDED, not retryable (llama-server and vLLM)", async () => {
    for (const shape of ["llama", "vllm"] as const) {
      bed = await startTestbed({ shape, contextSize: 300 });
      const err = await failure(bed.engine.generate(turn([], "word ".repeat(400))));
      expect(err.code).toBe("ENGINE_CONTEXT_EXCEEDED");
      expect(err.retryable).toBe(false);
      expect(err.status).toBe(400);
      await bed.stop();
      bed = undefined;
    }
  });

  it("a key the server refuses: whenReady rejects with ENGINE_AUTH_FAILED naming OPENAI_API_KEY, readiness says so", async () => {
    bed = await startTestbed({ apiKey: "sk-right-key-123456" }, { apiKey: "sk-wrong-key-123456" }, { waitReady: false });
    const err = await failure(bed.engine.whenReady());
    expect(err.code).toBe("ENGINE_AUTH_FAILED");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("OPENAI_API_KEY");
    expect(bed.engine.readiness()).toContain("OPENAI_API_KEY");
    expect((await failure(bed.engine.generate(turn([], "Hi")))).code).toBe("ENGINE_AUTH_FAILED");
    expect(bed.logs.raw.join("")).not.toContain("sk-wrong-key-123456");
  });
});

describe("openai engine: the server goes away mid-life", () => {
  it("a reply finds it gone: retryable ENGINE_UNAVAILABLE, not ready, ready again when it is back on its port", async () => {
    bed = await startTestbed();
    expect(bed.engine.readiness()).toBeUndefined();
    await bed.sim.stop();
    const err = await failure(bed.engine.generate(turn([], "Hi")));
    expect(err.code).toBe("ENGINE_UNAVAILABLE");
    expect(err.retryable).toBe(true);
    // A pooled keep-alive connection was cut ("other side closed"), or a new one refused.
    expect(err.message).toMatch(/ECONNREFUSED|other side closed|ECONNRESET/);
    expect(bed.engine.readiness()).toMatch(/not answering|unreachable/);
    await bed.sim.listen();
    await bed.engine.whenReady();
    expect(bed.engine.readiness()).toBeUndefined();
    expect((await bed.engine.generate(turn([], "Hi"))).text).toBe("Hello from the sim.");
  });
});
