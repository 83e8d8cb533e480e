/**
 * An OpenAIEngine against the loopback OpenAI-compatible simulator, with its log lines captured
 * (parsed pino JSON) and fast probe/wait timings. Tests call `stop()` in afterEach.
 */
import { Writable } from "node:stream";
import { createLogger } from "../../../../src/logger.ts";
import type { ChatTurn } from "../../../../src/types.ts";
import type { EngineGenerateParams } from "../../../../workers/engine/Engine.ts";
import { OpenAIEngine, type OpenAIEngineOptions } from "../../../../workers/engine/openai/OpenAIEngine.ts";
import { OpenAISim, type OpenAISimOptions } from "../../../sim/openai/OpenAISim.ts";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger() {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString("utf8"));
      cb();
    },
  });
  const logger = createLogger({ level: "debug", destination: stream });
  const lines = () => raw.map((l) => JSON.parse(l) as LogLine);
  return { logger, raw, lines };
}

export interface Testbed {
  sim: OpenAISim;
  engine: OpenAIEngine;
  logs: ReturnType<typeof captureLogger>;
  stop(): Promise<void>;
}

export async function startTestbed(
  simOptions: OpenAISimOptions = {},
  engineOptions: Partial<OpenAIEngineOptions> = {},
  opts: { waitReady?: boolean } = {},
): Promise<Testbed> {
  const sim = await OpenAISim.start(simOptions);
  const logs = captureLogger();
  const engine = OpenAIEngine.start({
    baseURL: sim.baseURL,
    timeoutMs: 5000,
    slots: 2,
    logger: logs.logger,
    fallbackWaitMs: 20,
    watch: { minDelayMs: 10, maxDelayMs: 50, logEveryMs: 60_000 },
    ...engineOptions,
  });
  if (opts.waitReady !== false) await engine.whenReady();
  return {
    sim,
    engine,
    logs,
    async stop() {
      await engine.close();
      await sim.stop();
    },
  };
}

export const SYSTEM = "You are a helpful assistant.";

/** Generate parameters for one turn (sampling as the worker's defaults). */
export function turn(history: readonly ChatTurn[], userText: string, extra: Partial<EngineGenerateParams> = {}): EngineGenerateParams {
  return {
    conversationKey: "local:room",
    systemPrompt: SYSTEM,
    history,
    userText,
    maxTokens: 64,
    temperature: 0.7,
    topK: 50,
    ...extra,
  };
}
