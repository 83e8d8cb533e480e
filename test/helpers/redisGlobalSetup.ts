/**
 * vitest globalSetup: make sure the tests have a Redis. Pings REDIS_URL (default
 * redis://127.0.0.1:6379); if nothing answers and `redis-server` is installed, starts a private
 * one (in memory, data dir in a temp folder) for the run, says so in one line and stops it at
 * teardown; with neither, fails at once in one line saying how to get Redis.
 */
import type { TestProject } from "vitest/node";
import { connectRedis, createRedis } from "../../src/redisConnection.ts";
import { RedisServerProcess } from "../../tools/chaos/RedisServerProcess.ts";
import { chooseTestRedis, NoRedisForTestsError } from "./chooseTestRedis.ts";

async function answers(url: string): Promise<boolean> {
  const redis = createRedis(url, "producer");
  try {
    await connectRedis(redis, url, 2000);
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The test run's own choice of Redis, outside the app's config on purpose: a developer's
  // REDIS_URL is honoured, anything else in their environment is not read here.
  const wanted = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  try {
    const choice = await chooseTestRedis(wanted, {
      answers,
      installed: RedisServerProcess.installed,
      startPrivate: () => RedisServerProcess.start({ appendfsync: "none" }),
    });
    if (choice.note) process.stderr.write(`${choice.note}\n`);
    project.provide("redisUrl", choice.url);
    return choice.stop;
  } catch (err) {
    if (!(err instanceof NoRedisForTestsError)) throw err;
    // One line, no stack: this is a missing prerequisite, not a bug.
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
