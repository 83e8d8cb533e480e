/**
 * Message nonces, as Discord keeps them for `enforce_nonce`: "if true and nonce is present, it
 * will be checked for uniqueness in the past few minutes. If another message was created by the
 * same author with the same nonce, that message will be returned and no new message will be
 * created." The window is `nonceTtlMs` (default two minutes, the short end of "a few minutes", so
 * a bot tested here does not lean on a longer window than Discord gives). Keyed by author + nonce.
 */

export const DEFAULT_NONCE_TTL_MS = 2 * 60 * 1000;

export interface NonceHit {
  nonce: string;
  authorId: string;
  channelId: string;
  /** the message returned instead of creating a new one */
  messageId: string;
  time: number;
}

export class NonceStore {
  private readonly byKey = new Map<string, { messageId: string; at: number }>();
  /** every create answered with an existing message */
  readonly hits: NonceHit[] = [];

  constructor(public ttlMs: number = DEFAULT_NONCE_TTL_MS) {}

  /** The message created by `authorId` with this nonce within the window, if any. */
  find(authorId: string, nonce: string | number, now = Date.now()): string | undefined {
    const e = this.byKey.get(`${authorId}:${String(nonce)}`);
    return e && now - e.at <= this.ttlMs ? e.messageId : undefined;
  }

  remember(authorId: string, nonce: string | number, messageId: string, now = Date.now()): void {
    this.byKey.set(`${authorId}:${String(nonce)}`, { messageId, at: now });
  }

  /** Ages every remembered nonce by `ms` (tests use it to step past the window without waiting). */
  age(ms: number): void {
    for (const e of this.byKey.values()) e.at -= ms;
  }
}
