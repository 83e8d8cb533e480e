import type { EnvelopeAck, EnvelopeType } from "../types.ts";

/**
 * One delivery of a payload to the app (a Socket Mode envelope, or an HTTP request in HTTP delivery
 * mode). `acked` resolves when the app acknowledges it; it never rejects.
 */
export class SimEnvelope {
  readonly acked: Promise<EnvelopeAck>;
  /** performance.now() when it was sent (set at delivery). */
  sentAt: number | undefined;
  /** Where it came from: a test call, a redelivery, or the platform echoing the bot's own activity. */
  readonly source: "test" | "redelivery" | "echo";
  private ackValue: EnvelopeAck | undefined;
  private resolveAck!: (ack: EnvelopeAck) => void;

  constructor(
    readonly envelopeId: string,
    readonly type: EnvelopeType,
    readonly teamId: string,
    /** The envelope's payload (event_callback body, slash command fields, interactive payload). */
    readonly payload: Record<string, unknown>,
    readonly retryAttempt: number,
    readonly retryReason: string,
    source: "test" | "redelivery" | "echo" = "test",
  ) {
    this.source = source;
    this.acked = new Promise<EnvelopeAck>((resolve) => {
      this.resolveAck = resolve;
    });
  }

  /** The ack, once it came. */
  get ack(): EnvelopeAck | undefined {
    return this.ackValue;
  }

  get isAcked(): boolean {
    return this.ackValue !== undefined;
  }

  /** For events: the inner event. */
  get event(): Record<string, unknown> | undefined {
    const event = this.payload.event;
    return typeof event === "object" && event !== null ? (event as Record<string, unknown>) : undefined;
  }

  /** The Socket Mode frame as sent on the wire. */
  toFrame(): Record<string, unknown> {
    const frame: Record<string, unknown> = {
      envelope_id: this.envelopeId,
      type: this.type,
      accepts_response_payload: this.type !== "events_api",
      payload: this.payload,
    };
    if (this.type === "events_api") {
      frame.retry_attempt = this.retryAttempt;
      frame.retry_reason = this.retryReason;
    }
    return frame;
  }

  /** Resolves with the ack, or rejects after `timeoutMs`. */
  waitAck(timeoutMs = 5000): Promise<EnvelopeAck> {
    if (this.ackValue) return Promise.resolve(this.ackValue);
    return new Promise<EnvelopeAck>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`envelope ${this.envelopeId} (${this.type}) not acked within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void this.acked.then((ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
  }

  /** @internal Called by the simulator; only the first ack counts. */
  settle(payload: unknown, status?: number): boolean {
    if (this.ackValue) return false;
    const ackMs = this.sentAt === undefined ? 0 : performance.now() - this.sentAt;
    const ack: EnvelopeAck = { envelopeId: this.envelopeId, ackMs, at: Date.now() };
    if (payload !== undefined) ack.payload = payload;
    if (status !== undefined) ack.status = status;
    this.ackValue = ack;
    this.resolveAck(ack);
    return true;
  }
}
