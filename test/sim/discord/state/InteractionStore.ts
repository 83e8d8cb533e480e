/**
 * Interactions the simulator dispatched (slash commands, component clicks): their tokens, whether
 * the initial callback came, and which message is their original response. Tokens work for
 * webhook follow-ups for 15 minutes, as on Discord.
 */
import { type ApiErrorResponse, Errors } from "../discordErrors.ts";
import type { Json } from "../types.ts";

const INTERACTION_TOKEN_TTL_MS = 15 * 60 * 1000;

export interface InteractionState {
  id: string;
  token: string;
  type: number;
  channelId: string;
  guildId: string | null;
  userId: string;
  payload: Json;
  createdAt: number;
  acked: boolean;
  callbackType: number | null;
  originalMessageId: string | null;
  targetMessageId: string | null;
  commandName: string | null;
  /** the modal shown by a type 9 callback (`data` as sent), for a later MODAL_SUBMIT */
  modal?: Json | null;
  /** choices answered by a type 8 callback (autocomplete) */
  choices?: unknown[] | null;
}

export class InteractionStore {
  private readonly byId = new Map<string, InteractionState>();

  add(state: InteractionState): void {
    this.byId.set(state.id, state);
  }

  get(id: string): InteractionState | undefined {
    return this.byId.get(id);
  }

  /** The interaction a webhook route (`/webhooks/:app/:token/...`) addresses, or the 404 Discord answers. */
  forWebhook(app: string, token: string, applicationId: string): InteractionState | ApiErrorResponse {
    if (app !== applicationId) return Errors.unknownWebhook();
    const it = [...this.byId.values()].find((i) => i.token === token);
    if (!it || Date.now() - it.createdAt > INTERACTION_TOKEN_TTL_MS) return Errors.unknownWebhook();
    return it;
  }
}
