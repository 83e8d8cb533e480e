import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pings Redis; starts a private redis-server when none answers (and says so).
    globalSetup: ["test/helpers/redisGlobalSetup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // 2 cores: model-heavy files would starve each other in parallel.
    fileParallelism: false,
    pool: "forks",
  },
});
