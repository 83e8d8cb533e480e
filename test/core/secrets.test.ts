/** Secrets never reach a log line: captured logs of a full run, including errors, contain none of them. */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../../src/config.ts";
import { createLogger, secretValues } from "../../src/logger.ts";
import type { ModelRunner } from "../../workers/inference/ModelRunner.ts";
import { Harness, loadTinyRunner, testConfig } from "../helpers/harness.ts";

const SECRETS = {
  DISCORD_TOKEN: "MTA5ODc2NTQzMjEwOTg3NjU0Mw.GaBcDe.q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0",
  SLACK_BOT_TOKEN: "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
  SLACK_APP_TOKEN: "xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  SLACK_SIGNING_SECRET: "8f742231b10e8888abcd99yyyzzz85a5",
  OPENAI_API_KEY: "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
};
const REDIS_PASSWORD = "s3cr3t-redis-pass";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString("utf8"));
      cb();
    },
  });
  return { lines, stream };
}

function expectClean(text: string) {
  for (const s of [...Object.values(SECRETS), REDIS_PASSWORD]) expect(text).not.toContain(s);
}

describe("secrets in logs", () => {
  it("scrubs every configured secret wherever it appears in a line", () => {
    const config = loadConfig({ ...SECRETS, REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:6379` });
    const { lines, stream } = capture();
    const log = createLogger({ level: "trace", secrets: secretValues(config), destination: stream });
    log.info({ token: SECRETS.DISCORD_TOKEN }, "token field");
    log.info({ headers: { authorization: `Bearer ${SECRETS.SLACK_BOT_TOKEN}` } }, "header");
    log.error({ err: new Error(`401 for ${SECRETS.SLACK_APP_TOKEN}`) }, "an error that quotes a token");
    log.warn(`url redis://:${REDIS_PASSWORD}@host and ${SECRETS.SLACK_SIGNING_SECRET}`);
    log.child({ cfg: config }).info("whole config object");
    const out = lines.join("");
    expect(lines.length).toBe(5);
    expect(out).toContain("[redacted]");
    expectClean(out);
  });

  it("config errors never echo a secret's value", () => {
    let message = "";
    try {
      loadConfig({ SLACK_PORT: "not-a-port", SLACK_BOT_TOKEN: SECRETS.SLACK_BOT_TOKEN });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("SLACK_PORT");
    expectClean(message);
  });
});

describe("a full local run with tokens configured", () => {
  let config: Config;
  let runner: ModelRunner;
  let h: Harness;
  const { lines, stream } = capture();

  beforeAll(async () => {
    config = await testConfig({ ...SECRETS });
    runner = await loadTinyRunner(config);
    h = new Harness(config, runner);
    const logger = createLogger({ level: "trace", secrets: secretValues(config), destination: stream });
    await h.startWorker({ logger });
  });
  afterAll(async () => {
    await h?.close();
    await runner?.close();
  });

  it("logs of replies and of a failing reply contain no secret", async () => {
    const client = h.client("secrets");
    await client.ask("hello");
    await client.ask("x ".repeat(3000)); // refused: too long for the context
    const out = lines.join("");
    expect(out).toContain("reply done");
    expectClean(out);
  });
});
