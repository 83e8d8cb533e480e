import { ensureTestModel } from "../../tools/gguf/ensureTestModel.ts";

/**
 * Path of the tiny random-weight Qwen2 test model (F32, seed 1), generated under
 * models/test/ on first use (~45 MB, well under a second to write).
 */
export function tinyModelPath(): Promise<string> {
  return ensureTestModel({ shape: "tiny", type: "f32", seed: 1 });
}
