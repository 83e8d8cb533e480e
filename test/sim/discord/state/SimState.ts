/**
 * Everything the Discord simulator knows, in one object handed to the routes and the user actions:
 * the world, the message/interaction/command stores, what the bot did that is not a message
 * (typing, reactions, interaction responses), and a way to send a gateway dispatch.
 */
import type { InteractionResponseRecord, StartOptions, TypingRecord } from "../types.ts";
import { CommandStore } from "./CommandStore.ts";
import { FileStore } from "./FileStore.ts";
import { InteractionStore } from "./InteractionStore.ts";
import { MessageStore } from "./MessageStore.ts";
import { NonceStore } from "./NonceStore.ts";
import { World } from "./World.ts";

const MESSAGE_CONTENT = 1 << 15;

export interface ReactionRecord {
  channelId: string;
  messageId: string;
  emoji: string;
  time: number;
}

export class SimState {
  readonly world: World;
  readonly messages: MessageStore;
  readonly interactions = new InteractionStore();
  readonly commands = new CommandStore();
  /** attachment bytes behind the CDN (user files and the bot's uploads) */
  readonly files = new FileStore();
  /** nonces of created messages, for `enforce_nonce` */
  readonly nonces: NonceStore;
  /** interaction callbacks and webhook (original/followup) calls */
  readonly interactionResponses: InteractionResponseRecord[] = [];
  /** POST /channels/:id/typing calls */
  readonly typing: TypingRecord[] = [];
  /** reactions the bot added: PUT /channels/:c/messages/:m/reactions/:emoji/@me */
  readonly reactions: ReactionRecord[] = [];
  /** ms within which an interaction must get its initial callback */
  readonly interactionAckTimeoutMs: number;
  /** largest file the bot may upload, in bytes (`attachment_size_limit` in interactions; over it → 413 40005) */
  readonly attachmentSizeLimit: number;
  /** what GET /gateway/bot reports and IDENTIFY enforces about shards and session starts */
  readonly gatewayBot: {
    recommendedShards: number;
    maxConcurrency: number;
    enforceMaxConcurrency: boolean;
    maxGuildsPerShard: number;
    total: number;
    remaining: number;
    resetAfterMs: number;
  };
  /** whether the app has the Message Content intent enabled in the portal (REST answers carry content) */
  readonly messageContentAllowed: boolean;
  /** the loopback port REST and the gateway listen on (set once the server listens) */
  port = 0;

  constructor(
    opts: StartOptions,
    /** sends a dispatch to every live gateway session */
    readonly dispatch: (t: string, d: unknown) => void,
  ) {
    const botId = opts.botUserId ?? "900000000000000001";
    this.world = new World({ id: botId, username: opts.botUsername ?? "qwenbot", bot: true }, opts.applicationId ?? botId);
    this.messages = new MessageStore(this.world, dispatch);
    this.interactionAckTimeoutMs = opts.interactionAckTimeoutMs ?? 3000;
    this.nonces = new NonceStore(opts.nonceTtlMs);
    this.gatewayBot = {
      recommendedShards: opts.recommendedShards ?? 1,
      maxConcurrency: opts.maxConcurrency ?? 1,
      enforceMaxConcurrency: opts.enforceMaxConcurrency ?? false,
      maxGuildsPerShard: opts.maxGuildsPerShard ?? 2500,
      total: 1000,
      remaining: 1000,
      resetAfterMs: 14_400_000,
    };
    this.attachmentSizeLimit = opts.attachmentSizeLimit ?? 10 * 1024 * 1024;
    this.messageContentAllowed = ((opts.allowedPrivilegedIntents ?? MESSAGE_CONTENT) & MESSAGE_CONTENT) !== 0;
  }

  get applicationId(): string {
    return this.world.applicationId;
  }

  get nextId(): () => string {
    return this.world.nextId;
  }

  /** The gateway URL that GET /gateway/bot hands out. */
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Where attachment URLs point. */
  get cdnBase(): string {
    return `http://127.0.0.1:${this.port}/cdn`;
  }
}
