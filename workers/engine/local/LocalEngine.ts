/**
 * The `local` engine: the worker's own node-llama-cpp ModelRunner behind the Engine seam. A thin
 * adapter — no behaviour of its own — so the local path keeps its speed and its sequence affinity.
 *
 * Its results carry the runner's own fields too (`slot`, `reusedTokens`, `restoredFromDisk`,
 * `evaluationStartedAt`), which tests and the bench read.
 */
import path from "node:path";
import type { ChatTurn } from "../../../src/types.ts";
import type { GenerateResult, ModelRunner } from "../../inference/ModelRunner.ts";
import type { Engine, EngineGenerateParams, EngineInfo, EngineResult, FittedHistory } from "../Engine.ts";

export type LocalEngineResult = EngineResult & Omit<GenerateResult, keyof EngineResult>;

export class LocalEngine implements Engine {
  readonly kind = "local" as const;
  readonly info: EngineInfo;

  constructor(readonly runner: ModelRunner) {
    const gpu = runner.loaded.llama.gpu;
    this.info = {
      model: path.basename(runner.loaded.modelPath),
      backend: `node-llama-cpp (${gpu === false ? "cpu" : gpu})`,
      contextSize: runner.contextSize,
      tokenCounter: "model",
    };
  }

  get slots(): number {
    return this.runner.sequences;
  }

  readiness(): string | undefined {
    return undefined;
  }

  async whenReady(): Promise<void> {}

  async fitHistory(systemPrompt: string, history: readonly ChatTurn[], userText: string, maxNewTokens: number): Promise<FittedHistory> {
    return this.runner.fitHistory(systemPrompt, history, userText, maxNewTokens);
  }

  async turnTokens(text: string): Promise<number> {
    return this.runner.turnTokens({ text });
  }

  countTokensSync(text: string): number {
    return this.runner.countTokens(text);
  }

  async generate(params: EngineGenerateParams): Promise<LocalEngineResult> {
    const { onText, onWait: _onWait, ...rest } = params;
    const result = await this.runner.generate({ ...rest, onToken: onText ? (stream) => onText(stream.text()) : undefined });
    return { ...result, cachedPromptTokens: result.reusedTokens, waitedMs: 0 };
  }

  async close(): Promise<void> {
    await this.runner.close();
  }
}
