/**
 * What a chaos run left in Redis, in the checker's terms (checkDelivery.ts): each conversation's
 * memory and inbox, and each message's reply record. What the user was shown comes from the
 * traffic source (chaosTraffic.ts), since only it knows where its platform delivers replies.
 */
import type { Redis } from "ioredis";
import type { Keys } from "../../src/keys.ts";
import type { ChatTurn } from "../../src/types.ts";
import type { ChaosTraffic } from "./chaosTraffic.ts";
import type { ChaosState, SentRecord } from "./checkDelivery.ts";

/** One traffic source and the messages it got accepted. */
export interface TrafficPart {
  traffic: ChaosTraffic;
  sent: readonly SentRecord[];
}

export async function readChaosState(redis: Redis, keys: Keys, parts: readonly TrafficPart[]): Promise<ChaosState> {
  const state: ChaosState = { turns: {}, replyStates: {}, delivered: {}, waiting: {} };
  for (const { traffic, sent } of parts) Object.assign(state.delivered, await traffic.delivered(redis, keys, sent));
  const sent = parts.flatMap((p) => p.sent);
  for (const conv of new Set(sent.map((r) => r.conversationKey))) {
    const [turns, waiting] = await Promise.all([redis.lrange(keys.turns(conv), 0, -1), redis.zrange(keys.inbox(conv), 0, -1)]);
    state.turns[conv] = turns.map((raw) => {
      const t = JSON.parse(raw) as ChatTurn;
      return { role: t.role, text: t.text };
    });
    state.waiting[conv] = waiting;
  }
  for (const r of sent) state.replyStates[r.requestId] = (await redis.hget(keys.reply(r.requestId), "state")) ?? undefined;
  const renderers = new Map(
    parts.flatMap(({ traffic }) => (traffic.render ? [[traffic.name, traffic.render.bind(traffic)] as const] : [])),
  );
  state.render = (conv, stored) => renderers.get(conv.split(":")[0]!)?.(stored) ?? stored;
  return state;
}
