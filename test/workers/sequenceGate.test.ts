/**
 * SequenceGate: at most `size` holders at once, first come first served, a sequence handed back
 * as soon as the holder settles (also when it throws), `onWait` only for those that had to wait,
 * and a holder stopped while waiting never runs.
 */
import { describe, expect, it } from "vitest";
import { SequenceGate } from "../../workers/SequenceGate.ts";

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe("SequenceGate", () => {
  it("lets `size` run, queues the rest in order, and hands a sequence on when one settles", async () => {
    const gate = new SequenceGate(2);
    const order: string[] = [];
    const waited: string[] = [];
    const blockers = [deferred(), deferred(), deferred(), deferred()];
    const run = (name: string, i: number) =>
      gate.hold(
        new AbortController().signal,
        async () => {
          waited.push(name);
        },
        async (w) => {
          order.push(`${name}${w ? "*" : ""}`);
          await blockers[i]!.promise;
          return name;
        },
      );
    const all = ["a", "b", "c", "d"].map((n, i) => run(n, i));
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(["a", "b"]);
    expect(gate.busy).toBe(2);
    expect(gate.waiting).toBe(2);
    blockers[1]!.resolve();
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(["a", "b", "c*"]);
    blockers[0]!.resolve();
    blockers[2]!.resolve();
    blockers[3]!.resolve();
    expect(await Promise.all(all)).toEqual(["a", "b", "c", "d"]);
    expect(order).toEqual(["a", "b", "c*", "d*"]);
    expect(waited).toEqual(["c", "d"]);
    expect(gate.busy).toBe(0);
  });

  it("a holder that throws hands its sequence back; one aborted while waiting does not run", async () => {
    const gate = new SequenceGate(1);
    const block = deferred();
    const first = gate.hold(
      new AbortController().signal,
      async () => {},
      async () => {
        await block.promise;
        throw new Error("boom");
      },
    );
    const stop = new AbortController();
    let ran = false;
    const second = gate.hold(
      stop.signal,
      async () => {},
      async () => {
        ran = true;
      },
    );
    stop.abort();
    block.resolve();
    await expect(first).rejects.toThrow("boom");
    expect(await second).toBeUndefined();
    expect(ran).toBe(false);
    expect(gate.busy).toBe(0);
    expect(gate.tryAcquire()).toBe(true);
  });
});
