import { ensureTestModel } from "../../tools/gguf/ensureTestModel.ts";
import type { TestModelTemplateName } from "../../tools/gguf/testModelTemplates.ts";

/**
 * Path of the tiny random-weight Qwen2 test model (F32, seed 1), generated under
 * models/test/ on first use (~45 MB, well under a second to write).
 */
export function tinyModelPath(): Promise<string> {
  return ensureTestModel({ shape: "tiny", type: "f32", seed: 1 });
}

/**
 * Path of the tiny test model carrying another chat template (Qwen2.5's, Qwen3's, Llama 3's,
 * Gemma's, or none) and the special tokens it needs; generated on first use like the default one.
 */
export function tinyTemplateModelPath(template: TestModelTemplateName): Promise<string> {
  return ensureTestModel({ shape: "tiny", type: "f32", seed: 1, template });
}
