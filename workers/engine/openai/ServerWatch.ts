/**
 * Whether the model server can answer, for /readyz and for the jobs: probes it until it answers
 * (backing off from `minDelayMs` to `maxDelayMs`), and again whenever a reply finds it gone.
 *
 * Logs one line when the server goes missing, then at most one per `logEveryMs` while it stays
 * missing (attempts counted, no stack traces), and one when it is back. A permanent failure
 * (unknown model, rejected API key) stops the probing: `whenReady` rejects with it.
 */
import { EngineError } from "../../../src/errors.ts";
import type { Logger } from "../../../src/logger.ts";
import type { ServerFacts } from "./discoverServer.ts";
import { sleep } from "./retryAfter.ts";
import { toEngineError } from "./toEngineError.ts";

export interface ServerWatchOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
  logEveryMs?: number;
}

export class ServerWatch {
  private facts: ServerFacts | undefined;
  private reason: string | undefined = "connecting to the model server";
  private failure: EngineError | undefined;
  private probing: Promise<void> | undefined;
  private readonly waiters = new Set<{ resolve: (f: ServerFacts) => void; reject: (e: unknown) => void }>();
  private readonly stop = new AbortController();

  constructor(
    private readonly probe: (signal: AbortSignal) => Promise<ServerFacts>,
    private readonly log: Logger,
    /** Where the server is, for messages (safe to log). */
    private readonly where: string,
    private readonly onReady: (facts: ServerFacts) => void,
    private readonly options: ServerWatchOptions = {},
  ) {}

  /** Start probing (no-op while a probe loop runs or after a permanent failure). */
  start(): void {
    if (this.probing || this.failure || this.stop.signal.aborted) return;
    this.probing = this.loop().finally(() => {
      this.probing = undefined;
    });
  }

  /** What the server last told us, while it is considered up. */
  get current(): ServerFacts | undefined {
    return this.reason === undefined ? this.facts : undefined;
  }

  /** What was learnt the last time it answered (kept while it is away). */
  get lastKnown(): ServerFacts | undefined {
    return this.facts;
  }

  readiness(): string | undefined {
    return this.failure ? this.failure.message : this.reason;
  }

  /** The permanent failure, if there is one. */
  get failed(): EngineError | undefined {
    return this.failure;
  }

  whenReady(signal?: AbortSignal): Promise<ServerFacts> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.current) return Promise.resolve(this.current);
    this.start();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (f: ServerFacts) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(f);
        },
        reject: (e: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        this.waiters.delete(waiter);
        reject(signal?.reason ?? new Error("aborted"));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** A reply found the server unreachable: not ready until a probe reaches it again. */
  lost(err: EngineError): void {
    if (this.failure || this.stop.signal.aborted) return;
    // The probe loop logs what it finds.
    if (this.reason === undefined) this.reason = `model server at ${this.where} unreachable: ${err.message}`;
    this.start();
  }

  close(): void {
    this.stop.abort();
    for (const w of this.waiters) w.reject(new EngineError("ENGINE_UNAVAILABLE", "engine closed", { retryable: false }));
    this.waiters.clear();
  }

  private async loop(): Promise<void> {
    const minDelay = this.options.minDelayMs ?? 500;
    const maxDelay = this.options.maxDelayMs ?? 10_000;
    const logEvery = this.options.logEveryMs ?? 30_000;
    let delay = minDelay;
    let attempts = 0;
    let firstFailureAt = 0;
    let loggedAt = 0;
    while (!this.stop.signal.aborted) {
      attempts++;
      try {
        const facts = await this.probe(this.stop.signal);
        if (this.stop.signal.aborted) return;
        this.facts = facts;
        this.reason = undefined;
        this.onReady(facts);
        if (attempts > 1) this.log.info({ server: this.where, attempts }, "model server reachable again");
        for (const w of this.waiters) w.resolve(facts);
        this.waiters.clear();
        return;
      } catch (thrown) {
        if (this.stop.signal.aborted) return;
        const err = toEngineError(thrown, "probing the server");
        if (!err.retryable) {
          this.failure = err;
          this.reason = err.message;
          this.log.error({ server: this.where, code: err.code }, err.message);
          for (const w of this.waiters) w.reject(err);
          this.waiters.clear();
          return;
        }
        const now = Date.now();
        this.reason = `model server at ${this.where} not answering: ${err.message}`;
        if (attempts === 1 || now - loggedAt >= logEvery) {
          if (attempts === 1) firstFailureAt = now;
          const since = Math.round((now - firstFailureAt) / 1000);
          this.log.warn(
            { server: this.where, code: err.code, attempts, sinceSeconds: since },
            attempts === 1 ? `${err.message}; retrying` : `still no model server after ${attempts} attempts (${since} s): ${err.message}`,
          );
          loggedAt = now;
        }
      }
      await sleep(delay, this.stop.signal);
      delay = Math.min(maxDelay, delay * 2);
    }
  }
}
