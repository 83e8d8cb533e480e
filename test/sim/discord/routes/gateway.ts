/**
 * Gateway discovery: GET `/gateway` and `/gateway/bot` hand out the simulator's WebSocket URL;
 * `/gateway/bot` adds the recommended shard count and the session start limit (its `remaining`
 * goes down with every accepted IDENTIFY, `max_concurrency` as configured).
 */
import { json, type Router } from "../http/Router.ts";
import type { SimState } from "../state/SimState.ts";

export function gatewayRoutes(router: Router, state: SimState): void {
  router.add("GET", "/gateway", () => json({ url: state.gatewayUrl }));
  router.add("GET", "/gateway/bot", () => {
    const g = state.gatewayBot;
    return json({
      url: state.gatewayUrl,
      shards: g.recommendedShards,
      session_start_limit: { total: g.total, remaining: g.remaining, reset_after: g.resetAfterMs, max_concurrency: g.maxConcurrency },
    });
  });
}
