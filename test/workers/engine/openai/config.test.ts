/** The engine's settings: ENGINE=openai needs OPENAI_BASE_URL, and the engine gets exactly what was configured. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../../src/config.ts";
import { ConfigError } from "../../../../src/errors.ts";
import { createLogger } from "../../../../src/logger.ts";
import { openAIEngineOptions } from "../../../../workers/engine/openai/OpenAIEngine.ts";

describe("engine configuration", () => {
  it("defaults to the local engine", () => {
    expect(loadConfig({}).ENGINE).toBe("local");
  });

  it("ENGINE=openai without OPENAI_BASE_URL is a config error naming the variable", () => {
    let err: unknown;
    try {
      loadConfig({ ENGINE: "openai" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe("OPENAI_BASE_URL");
    expect((err as ConfigError).message).toContain("ENGINE=openai");
  });

  it("rejects an unknown engine and a base URL that is not http(s)", () => {
    expect(() => loadConfig({ ENGINE: "vllm" })).toThrow(/ENGINE/);
    expect(() => loadConfig({ ENGINE: "openai", OPENAI_BASE_URL: "localhost:8080" })).toThrow(/OPENAI_BASE_URL/);
  });

  it("hands the engine what was configured, WORKER_CONCURRENCY as its open streams", () => {
    const config = loadConfig({
      ENGINE: "openai",
      OPENAI_BASE_URL: "http://127.0.0.1:8080/v1",
      OPENAI_API_KEY: "sk-local-123456",
      OPENAI_MODEL: "qwen2",
      OPENAI_TIMEOUT_MS: "5000",
      OPENAI_CONTEXT_SIZE: "2048",
      WORKER_CONCURRENCY: "8",
    });
    const options = openAIEngineOptions(config, createLogger({ level: "silent" }));
    expect(options).toMatchObject({
      baseURL: "http://127.0.0.1:8080/v1",
      apiKey: "sk-local-123456",
      model: "qwen2",
      timeoutMs: 5000,
      contextSize: 2048,
      slots: 8,
    });
    expect(loadConfig({ ENGINE: "openai", OPENAI_BASE_URL: "http://h/v1" }).OPENAI_TIMEOUT_MS).toBe(120_000);
  });
});
