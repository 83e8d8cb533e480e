/**
 * When the chaos run strikes, from a seed: worker SIGKILLs spread over the sending phase and the
 * backlog after it, their targets drawn as seeded shuffles of all workers (each worker is hit
 * once per round, so kills never pile onto one), and one Redis SIGKILL while messages are still
 * being sent. Pure, so the same seed replays the same run and a test can check the spread.
 */
import { mulberry32 } from "../random.ts";

export type FaultEvent =
  | { at: number; kind: "killWorker"; worker: number }
  | { at: number; kind: "crashRedis"; downMs: number }
  | { at: number; kind: "killAdapter"; platform: string }
  | { at: number; kind: "platformFault"; platform: string };

export interface PlanOptions {
  seed: number;
  workers: number;
  kills: number;
  /** How long the client spends sending (ms from its start). */
  sendMs: number;
  /** How long Redis stays down after its SIGKILL. */
  redisDownMs: number;
  /** Platforms whose adapter runs as a process (discord, slack): each gets adapter kills and platform faults. */
  platforms?: readonly string[];
  /** Adapter SIGKILLs per platform. */
  adapterKills?: number;
  /** Platform faults (5xx after commit, 429s, disconnects, replays, deleted replies) per platform. */
  platformFaults?: number;
}

/** Events in time order; `at` is ms after the client started sending. */
export function planFaults(o: PlanOptions): FaultEvent[] {
  const random = mulberry32(o.seed);
  const victims: number[] = [];
  while (victims.length < o.kills) {
    const round = Array.from({ length: o.workers }, (_, i) => i);
    for (let i = round.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [round[i], round[j]] = [round[j]!, round[i]!];
    }
    // No worker twice in a row across rounds.
    if (victims.length > 0 && round[0] === victims.at(-1) && round.length > 1) round.push(round.shift()!);
    victims.push(...round);
  }
  const events: FaultEvent[] = victims.slice(0, o.kills).map((worker, k) => ({
    // Slot k of `kills` equal slots over 10 %–140 % of the sending phase, at a random point inside it.
    at: Math.round(o.sendMs * (0.1 + (1.3 * (k + 0.15 + 0.7 * random())) / o.kills)),
    kind: "killWorker" as const,
    worker,
  }));
  // Redis goes down between 25 % and 40 % of the sending phase: later messages meet it down.
  events.push({ at: Math.round(o.sendMs * (0.25 + 0.15 * random())), kind: "crashRedis", downMs: o.redisDownMs });
  // Adapter kills and platform faults: spread over 5 %–120 % of the sending phase, each at a random point of its slot.
  const spread = (n: number, k: number) => Math.round(o.sendMs * (0.05 + (1.15 * (k + random())) / n));
  for (const platform of o.platforms ?? []) {
    const kills = o.adapterKills ?? 0;
    const faults = o.platformFaults ?? 0;
    for (let k = 0; k < kills; k++) events.push({ at: spread(kills, k), kind: "killAdapter", platform });
    for (let k = 0; k < faults; k++) events.push({ at: spread(faults, k), kind: "platformFault", platform });
  }
  return events.sort((a, b) => a.at - b.at);
}
