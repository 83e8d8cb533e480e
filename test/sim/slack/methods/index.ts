/**
 * Every Web API method the Slack simulator answers, by family (one file each). To add a method, put
 * it in its family's file (or a new file spread in here); a method not listed answers `unknown_method`.
 */
import { appsMethods } from "./apps.ts";
import { assistantMethods } from "./assistant.ts";
import { authMethods } from "./auth.ts";
import { chatMethods } from "./chat.ts";
import { conversationsMethods } from "./conversations.ts";
import { filesMethods } from "./files.ts";
import type { MethodDeps, MethodSpec } from "./MethodSpec.ts";
import { reactionsMethods } from "./reactions.ts";
import { streamMethods } from "./streams.ts";
import { usersMethods } from "./users.ts";
import { viewsMethods } from "./views.ts";

export function buildMethods(deps: MethodDeps): Record<string, MethodSpec> {
  return {
    ...authMethods(deps),
    ...appsMethods(deps),
    ...chatMethods(deps),
    ...conversationsMethods(deps),
    ...usersMethods(deps),
    ...reactionsMethods(deps),
    ...streamMethods(deps),
    ...assistantMethods(deps),
    ...filesMethods(deps),
    ...viewsMethods(deps),
  };
}
