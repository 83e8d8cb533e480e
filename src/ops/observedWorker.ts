/**
 * What operations code (metrics, worker stats) needs to know about a worker and its model,
 * as plain shapes: ops never imports `workers/`. The process wiring (`bin/wiring/startWorker.ts`)
 * hands the real worker over.
 */

/** What a finished generation tells the metrics (a subset of the worker's GenerateResult). */
export interface GenerationStats {
  generatedTokens: number;
  ttftMs: number;
  totalMs: number;
  stopReason: string;
}

/** The worker events and counters ops listens to. */
export interface ObservedWorker {
  readonly id: string;
  /** Replies being generated right now. */
  readonly inFlight: number;
  on(event: "generation", listener: (e: { request: { reply: { platform: string } }; result: GenerationStats }) => void): unknown;
  on(event: "lockLost", listener: () => void): unknown;
  on(event: "failure", listener: (code: string) => void): unknown;
  off(event: "generation", listener: (e: { request: { reply: { platform: string } }; result: GenerationStats }) => void): unknown;
}

/** The model (or engine) a worker answers with. */
export interface EngineInfo {
  /** Model file name or remote model id. */
  model: string;
  /** cuda, vulkan, metal, cpu — or the remote engine's kind. */
  backend: string;
  /** Replies the worker generates at once. */
  sequences: number;
  /** Time it took to load the model (0 for remote engines). */
  loadMs: number;
}
