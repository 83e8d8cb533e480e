/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** How often the predicate is polled (ms). Default 10. */
  intervalMs?: number;
  /** Text added to the timeout error, to say what was awaited. */
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (or a promise of one) and resolves with it.
 * Rejects after `timeoutMs` with the last error the predicate threw, if any.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5000, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const what = options.message ? ` (${options.message})` : "";
      const cause = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`waitFor timed out after ${timeoutMs} ms${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
