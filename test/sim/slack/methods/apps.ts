/** `apps.connections.open` (app-level token): a one-time Socket Mode URL on the simulator. */
import type { MethodDeps, MethodSpec } from "./MethodSpec.ts";

export function appsMethods(deps: MethodDeps): Record<string, MethodSpec> {
  return {
    "apps.connections.open": {
      auth: "app",
      run: () => ({ url: deps.openSocketUrl() }),
    },
  };
}
