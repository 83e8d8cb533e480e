/** Gateway discovery: GET `/gateway` and `/gateway/bot` hand out the simulator's WebSocket URL. */
import { json, type Router } from "../http/Router.ts";
import type { SimState } from "../state/SimState.ts";

export function gatewayRoutes(router: Router, state: SimState): void {
  router.add("GET", "/gateway", () => json({ url: state.gatewayUrl }));
  router.add("GET", "/gateway/bot", () =>
    json({
      url: state.gatewayUrl,
      shards: 1,
      session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
    }),
  );
}
