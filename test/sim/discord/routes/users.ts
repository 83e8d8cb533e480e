/**
 * Who the bot is and whom it talks to: `/users/@me`, `/users/:id`, opening a DM
 * (`POST /users/@me/channels`) and the application (`/applications/@me`, `/oauth2/applications/@me`).
 */
import { Errors, invalidFormBody } from "../discordErrors.ts";
import { errorReply, json, type Router } from "../http/Router.ts";
import { applicationWire } from "../state/guildWire.ts";
import type { SimState } from "../state/SimState.ts";
import { channelWire, userWire } from "../state/wire.ts";
import { isObject } from "../util.ts";

export function userRoutes(router: Router, state: SimState): void {
  const { world } = state;
  router.add("GET", "/users/@me", () =>
    json({ ...userWire(world, world.botUser.id), verified: true, mfa_enabled: false, locale: "en-US", email: null }),
  );
  router.add("GET", "/users/:id", (_r, [id]) => (world.users.has(id!) ? json(userWire(world, id!)) : errorReply(Errors.unknownUser())));
  router.add("POST", "/users/@me/channels", (r) => {
    const recipient = isObject(r.body) && typeof r.body.recipient_id === "string" ? r.body.recipient_id : "";
    if (!world.users.has(recipient)) return errorReply(invalidFormBody(["recipient_id"], "USER_DOES_NOT_EXIST", "Unknown User"));
    return { status: 200, body: channelWire(world, world.openDm(recipient, state.nextId)) };
  });
  router.add("GET", "/applications/@me", () => json(applicationWire(world)));
  router.add("GET", "/oauth2/applications/@me", () => json(applicationWire(world)));
}
