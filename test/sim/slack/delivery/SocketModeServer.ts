/**
 * How envelopes reach the app. Socket Mode: `apps.connections.open` hands out a one-time
 * `ws://…/link/?ticket=…` URL; the server says hello, sends each envelope on the newest open
 * socket (queued while none is open), and matches acks by envelope_id. With `httpDelivery` set,
 * envelopes are POSTed, signed, to the app's URL instead (httpDelivery.ts).
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { asString } from "../util.ts";
import { deliverHttp, type HttpDelivery } from "./httpDelivery.ts";
import type { SimEnvelope } from "./SimEnvelope.ts";

/** Called once an envelope is acked (Socket Mode ack, or a 2xx HTTP answer), with the ack's payload. */
export type AckListener = (envelope: SimEnvelope, payload: unknown) => void;

export class SocketModeServer {
  /** every envelope sent, oldest first */
  readonly envelopeLog: SimEnvelope[] = [];
  /** acks for envelope ids never sent (or already acked), and unparsable frames */
  readonly unknownAcks: unknown[] = [];
  /** when set, envelopes go to the app over signed HTTP instead of Socket Mode */
  httpDelivery: HttpDelivery | undefined;
  /** set by close(): nothing is sent any more */
  stopped = false;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly pendingAcks = new Map<string, SimEnvelope>();
  private readonly undelivered: SimEnvelope[] = [];
  private readonly sockets: WebSocket[] = [];
  private readonly tickets = new Set<string>();
  private readonly pingTimer: NodeJS.Timeout | undefined;
  private hellos = 0;

  constructor(
    private readonly appId: string,
    private readonly baseUrl: string,
    /** WebSocket pings to clients this often (ms); 0 = never */
    pingMs: number,
    private readonly onAck: AckListener,
  ) {
    this.pingTimer =
      pingMs > 0
        ? setInterval(() => {
            for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.ping();
          }, pingMs)
        : undefined;
  }

  /** A one-time Socket Mode URL (what apps.connections.open answers). */
  openUrl(port: number): string {
    const ticket = randomBytes(16).toString("hex");
    this.tickets.add(ticket);
    return `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=${this.appId}`;
  }

  /** HTTP upgrade to `/link?ticket=…`: accepted once per ticket, else 401. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? "/", this.baseUrl);
    const ticket = url.searchParams.get("ticket");
    if (!url.pathname.startsWith("/link") || ticket === null || !this.tickets.has(ticket)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
      return;
    }
    this.tickets.delete(ticket);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
  }

  /** Sends an envelope to the app (logging it unless `log` is false, as for a queued one sent on connect). */
  dispatch(envelope: SimEnvelope, log = true): SimEnvelope {
    if (log) this.envelopeLog.push(envelope);
    if (this.stopped) return envelope;
    if (this.httpDelivery) {
      void deliverHttp(envelope, this.httpDelivery, this.onAck);
      return envelope;
    }
    const open = this.sockets.filter((ws) => ws.readyState === WebSocket.OPEN);
    const ws = open[open.length - 1];
    if (!ws) {
      this.undelivered.push(envelope);
      return envelope;
    }
    this.pendingAcks.set(envelope.envelopeId, envelope);
    envelope.sentAt = performance.now();
    ws.send(JSON.stringify(envelope.toFrame()));
    return envelope;
  }

  /** Sends any JSON frame to every Socket Mode client. */
  broadcast(frame: Record<string, unknown>): void {
    const raw = JSON.stringify(frame);
    for (const ws of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.send(raw);
  }

  /** Cuts every connection without a close frame. */
  dropSockets(): void {
    for (const ws of [...this.sockets]) ws.terminate();
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  }

  /** Connections made so far (hellos sent). */
  get connectCount(): number {
    return this.hellos;
  }

  /** Stops pings, ends every socket, closes the WebSocket server. Pending acks stay pending. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const ws of [...this.sockets]) ws.terminate();
    this.sockets.length = 0;
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.push(ws);
    this.hellos += 1;
    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      this.onFrame(String(data));
    });
    ws.on("close", () => {
      const index = this.sockets.indexOf(ws);
      if (index >= 0) this.sockets.splice(index, 1);
    });
    ws.on("error", () => {
      /* a client going away mid-frame: nothing to do */
    });
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.connectionCount,
        debug_info: { host: "applink-sim", build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    const queued = this.undelivered.splice(0);
    for (const envelope of queued) this.dispatch(envelope, false);
  }

  private onFrame(raw: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      this.unknownAcks.push(raw);
      return;
    }
    const envelopeId = asString(frame.envelope_id);
    const envelope = envelopeId !== undefined ? this.pendingAcks.get(envelopeId) : undefined;
    if (!envelope) {
      this.unknownAcks.push(frame);
      return;
    }
    this.pendingAcks.delete(envelope.envelopeId);
    const payload = frame.payload;
    envelope.settle(payload);
    this.onAck(envelope, payload);
  }
}
