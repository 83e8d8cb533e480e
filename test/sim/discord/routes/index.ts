/**
 * Every REST route the Discord simulator answers, one file per resource family. To add a route,
 * put it in the file of its family (or a new file registered here). Order matters only where two
 * patterns match the same path (`/users/@me` before `/users/:id`).
 */
import type { Router } from "../http/Router.ts";
import type { SimState } from "../state/SimState.ts";
import { applicationCommandRoutes } from "./applicationCommands.ts";
import { channelRoutes } from "./channels.ts";
import { gatewayRoutes } from "./gateway.ts";
import { guildRoutes } from "./guilds.ts";
import { interactionRoutes } from "./interactions.ts";
import { messageRoutes } from "./messages.ts";
import { userRoutes } from "./users.ts";

export function registerRoutes(router: Router, state: SimState): void {
  gatewayRoutes(router, state);
  userRoutes(router, state);
  applicationCommandRoutes(router, state);
  guildRoutes(router, state);
  channelRoutes(router, state);
  messageRoutes(router, state);
  interactionRoutes(router, state);
}
