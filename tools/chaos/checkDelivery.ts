/**
 * After a chaos run: did every accepted message get exactly one answer, in its conversation, in
 * order, and is nothing left "thinking…"? Read from Redis: each reply's stream, its record, and
 * the conversations' memory.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../../src/keys.ts";
import type { ChatTurn } from "../../src/types.ts";
import type { SentRecord } from "./chaosClient.ts";

export interface DeliverySummary {
  sent: number;
  answeredExactlyOnce: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  stuck: number;
  problems: string[];
}

export async function checkDelivery(redis: Redis, keys: Keys, sent: readonly SentRecord[]): Promise<DeliverySummary> {
  const s: DeliverySummary = { sent: sent.length, answeredExactlyOnce: 0, lost: 0, duplicated: 0, outOfOrder: 0, stuck: 0, problems: [] };
  const byConv = new Map<string, SentRecord[]>();
  for (const r of sent) byConv.set(r.conversationKey, [...(byConv.get(r.conversationKey) ?? []), r]);
  for (const [conv, records] of byConv) {
    const turns = (await redis.lrange(keys.turns(conv), 0, -1)).map((x) => JSON.parse(x) as ChatTurn);
    const userTexts = turns.filter((t) => t.role === "user").map((t) => t.text);
    // Memory alternates user/assistant.
    turns.forEach((t, i) => {
      if (t.role !== (i % 2 === 0 ? "user" : "assistant")) s.problems.push(`${conv}: turn ${i} is ${t.role}`);
    });
    const expected = [...records].sort((a, b) => a.index - b.index);
    let lastPos = -1;
    for (const r of expected) {
      // Distinct final answers: the same answer delivered again after a crash is still one answer.
      const finalTexts = new Set<string>();
      for (const [, f] of await redis.xrange(keys.replyStream(r.messageId), "-", "+")) {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < f.length; i += 2) fields[f[i]!] = f[i + 1]!;
        if (fields.final === "1") finalTexts.add(`${fields.text ?? ""}\u0000${fields.note ?? ""}`);
      }
      const finals = finalTexts.size;
      const state = await redis.hget(keys.reply(r.requestId), "state");
      const inMemory = userTexts.filter((t) => t === r.text).length;
      if (state !== "done" && state !== "failed") {
        s.stuck++;
        s.problems.push(`${r.requestId}: reply state ${state ?? "missing"}`);
      }
      if (finals === 0 && inMemory === 0) {
        s.lost++;
        s.problems.push(`${r.requestId}: no answer`);
        continue;
      }
      if (finals > 1 || inMemory > 1) {
        s.duplicated++;
        s.problems.push(`${r.requestId}: ${finals} final replies, ${inMemory} times in memory`);
        continue;
      }
      if (finals === 1 && inMemory === 1) s.answeredExactlyOnce++;
      else s.problems.push(`${r.requestId}: ${finals} final replies but ${inMemory} times in memory`);
      const pos = userTexts.indexOf(r.text);
      if (pos !== -1) {
        if (pos < lastPos) {
          s.outOfOrder++;
          s.problems.push(`${r.requestId}: answered out of order`);
        }
        lastPos = Math.max(lastPos, pos);
      }
    }
  }
  return s;
}
