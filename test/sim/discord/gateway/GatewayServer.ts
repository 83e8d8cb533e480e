/**
 * The gateway half of the Discord simulator: HELLO, IDENTIFY → READY, heartbeats, per-session
 * dispatch logs, RESUME with replay, RECONNECT, INVALID_SESSION, drops and kills.
 * JSON encoding; `compress=zlib-stream` (one zlib stream, Z_SYNC_FLUSH per payload) and IDENTIFY
 * `compress: true` (each payload deflated on its own) are both honoured.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import zlib from "node:zlib";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { DispatchRecord, GatewayConnectionRecord, IdentifyRecord, Json, ResumeRecord } from "../types.ts";

export const GatewayOp = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** Privileged intents: GuildMembers, GuildPresences, MessageContent. */
export const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);
const ALL_INTENTS = (1 << 26) - 1;

interface LoggedDispatch {
  s: number;
  t: string;
  d: unknown;
}

export interface GatewaySession {
  id: string;
  seq: number;
  intents: number;
  shard: [number, number] | null;
  conn: Connection | null;
  invalidated: boolean;
  log: LoggedDispatch[];
  /** dispatches to send again (duplicates) on the next RESUME, before the regular replay */
  pendingReplays: Array<{ s: number | null; t: string; d: unknown }>;
  /** dispatches up to this sequence number were delivered before the last IDENTIFY/RESUME (not duplicated again) */
  replayMark: number;
}

/**
 * The kind of a dispatch, for `duplicateOnResume`: its event name, and for INTERACTION_CREATE also
 * `command`, `button`, `select`, `autocomplete` or `modal` (and `ping`/`context-menu` for the rest).
 */
function onShard(session: GatewaySession, shardId: number | undefined): boolean {
  return shardId === undefined || (session.shard?.[0] ?? 0) === shardId;
}

export function dispatchKinds(t: string, d: unknown): string[] {
  if (t !== "INTERACTION_CREATE" || typeof d !== "object" || d === null) return [t];
  const it = d as { type?: number; data?: { type?: number; component_type?: number } };
  const kind =
    it.type === 2
      ? it.data?.type === 1 || it.data?.type === undefined
        ? "command"
        : "context-menu"
      : it.type === 3
        ? it.data?.component_type === 2
          ? "button"
          : "select"
        : it.type === 4
          ? "autocomplete"
          : it.type === 5
            ? "modal"
            : "ping";
  return [t, kind];
}

interface Connection {
  ws: WebSocket;
  record: GatewayConnectionRecord;
  session: GatewaySession | null;
  streamDeflate: zlib.Deflate | null;
  identifyCompress: boolean;
  sendChain: Promise<void>;
}

export interface GatewayHooks {
  /** READY's `d`, given the new session */
  readyData(session: GatewaySession): Json;
  /** dispatches sent right after READY (GUILD_CREATE per guild) */
  afterReady(session: GatewaySession): Array<{ t: string; d: unknown }>;
  /** the session's view of a dispatch (intent filtering, content blanking); null → not delivered */
  view(session: GatewaySession, t: string, d: unknown): unknown | null;
  /** true when the token is acceptable */
  acceptToken(token: string): boolean;
  /** new session ids */
  newSessionId(): string;
  /** privileged intents the application may request */
  allowedPrivilegedIntents: number;
  /** answer to REQUEST_GUILD_MEMBERS (op 8): the GUILD_MEMBERS_CHUNK payloads */
  membersChunk?(d: Json): Json[];
  /** true when the session [id, count] would hold more guilds than one shard may (close 4011) */
  shardingRequired?(shard: [number, number]): boolean;
  /** identify rate limit: `max_concurrency` and whether it is enforced (op 9 for a second IDENTIFY in a bucket within 5 s) */
  identifyConcurrency?(): { maxConcurrency: number; enforce: boolean };
  /** called for every accepted IDENTIFY (session start limit bookkeeping) */
  onSessionStart?(): void;
}

/** An IDENTIFY the gateway did not accept (no session started). */
export interface RefusedIdentifyRecord {
  shard: [number, number] | null;
  /** close code sent, or "max_concurrency" (answered with INVALID_SESSION) */
  reason: number | "max_concurrency";
  time: number;
}

export class GatewayServer {
  readonly wss: WebSocketServer;
  readonly sessions = new Map<string, GatewaySession>();
  readonly identifies: IdentifyRecord[] = [];
  readonly resumes: ResumeRecord[] = [];
  readonly connections: GatewayConnectionRecord[] = [];
  readonly dispatchLog: DispatchRecord[] = [];
  /** IDENTIFYs refused for their shard (4010, 4011) or for the max_concurrency rate limit */
  readonly refusedIdentifies: RefusedIdentifyRecord[] = [];
  /** rate-limit key (shard id % max_concurrency) → time of the last IDENTIFY in that bucket */
  private readonly identifyBuckets = new Map<number, number>();
  /** every op the clients sent (op, d), heartbeats included */
  readonly received: Array<{ op: number; d: unknown; time: number }> = [];
  heartbeatIntervalMs: number;
  ackHeartbeats = true;
  /** kinds (see `dispatchKinds`) whose already-delivered dispatches every accepted RESUME sends again */
  readonly duplicateKinds = new Set<string>();
  heartbeats = 0;
  private conns = new Set<Connection>();

  constructor(
    private readonly hooks: GatewayHooks,
    opts: { heartbeatIntervalMs: number; resumeUrl: () => string },
  ) {
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs;
    this.resumeUrl = opts.resumeUrl;
    this.wss = new WebSocketServer({ noServer: true });
  }

  private readonly resumeUrl: () => string;

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
  }

  /** Sessions that still receive dispatches (identified, not invalidated). */
  liveSessions(): GatewaySession[] {
    return [...this.sessions.values()].filter((s) => !s.invalidated);
  }

  /** Sends a dispatch to every live session (logged per session; delivered now if connected, else on RESUME). */
  dispatch(t: string, d: unknown): void {
    for (const session of this.liveSessions()) this.dispatchTo(session, t, d);
  }

  dispatchTo(session: GatewaySession, t: string, d: unknown): void {
    const view = this.hooks.view(session, t, d);
    if (view === null) return;
    const s = ++session.seq;
    session.log.push({ s, t, d: view });
    const delivered = session.conn !== null;
    this.dispatchLog.push({ sessionId: session.id, s, t, d: view, delivered, replay: false, time: Date.now() });
    if (session.conn) this.send(session.conn, { op: GatewayOp.Dispatch, d: view, s, t });
  }

  /** Op 7 RECONNECT on every connected session (or only those of shard `shardId`). */
  sendReconnect(shardId?: number): void {
    for (const conn of this.conns)
      if (conn.session && onShard(conn.session, shardId)) this.send(conn, { op: GatewayOp.Reconnect, d: null, s: null, t: null });
  }

  /** Op 9 INVALID_SESSION on every connected session (or shard `shardId`'s); not resumable → the session is gone. */
  sendInvalidSession(resumable: boolean, shardId?: number): void {
    for (const conn of this.conns) {
      if (!conn.session || !onShard(conn.session, shardId)) continue;
      if (!resumable) conn.session.invalidated = true;
      this.send(conn, { op: GatewayOp.InvalidSession, d: resumable, s: null, t: null });
    }
  }

  /** Closes every connection (or shard `shardId`'s) with a close frame carrying `code`; sessions stay resumable. */
  dropConnection(code = 4000, reason = "simulated drop", shardId?: number): void {
    for (const conn of [...this.conns]) {
      if (shardId !== undefined && !(conn.session && onShard(conn.session, shardId))) continue;
      this.detach(conn);
      conn.ws.close(code, reason);
    }
  }

  /** Ends every connection (or shard `shardId`'s) without a close frame (the client sees 1006). */
  kill(shardId?: number): void {
    for (const conn of [...this.conns]) {
      if (shardId !== undefined && !(conn.session && onShard(conn.session, shardId))) continue;
      this.detach(conn);
      conn.ws.terminate();
    }
  }

  /** Queues logged dispatches matching `pred` to be sent again (original `s`) in the next RESUME replay. */
  queueReplay(pred: (t: string, d: unknown) => boolean): number {
    let n = 0;
    for (const session of this.liveSessions()) {
      for (const e of session.log) {
        if (pred(e.t, e.d)) {
          session.pendingReplays.push({ s: e.s, t: e.t, d: e.d });
          n++;
        }
      }
    }
    return n;
  }

  /** Queues an arbitrary dispatch (new sequence number) for the next RESUME replay. */
  queueReplayPayload(t: string, d: unknown): void {
    for (const session of this.liveSessions()) session.pendingReplays.push({ s: null, t, d });
  }

  async close(): Promise<void> {
    for (const conn of [...this.conns]) {
      this.detach(conn);
      conn.ws.terminate();
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ---------------------------------------------------------------------------

  private detach(conn: Connection): void {
    if (conn.session && conn.session.conn === conn) conn.session.conn = null;
    conn.session = null;
    this.conns.delete(conn);
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const url = new URL(req.url ?? "/", "http://localhost");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const record: GatewayConnectionRecord = { path: url.pathname, query, time: Date.now(), closeCode: null };
    this.connections.push(record);
    const conn: Connection = { ws, record, session: null, streamDeflate: null, identifyCompress: false, sendChain: Promise.resolve() };
    this.conns.add(conn);
    if (query.compress === "zlib-stream") conn.streamDeflate = zlib.createDeflate({ chunkSize: 65535 });
    ws.on("close", (code) => {
      record.closeCode = code;
      const session = conn.session;
      this.detach(conn);
      // A client closing with 1000/1001 ends its session (Discord's rule); any other code keeps it resumable.
      if (session && (code === 1000 || code === 1001)) session.invalidated = true;
      conn.streamDeflate?.close();
    });
    ws.on("error", () => {
      /* the close handler does the bookkeeping */
    });
    if (query.encoding !== undefined && query.encoding !== "json") {
      ws.close(4002, "Error while decoding payload.");
      return;
    }
    if (query.v !== undefined && query.v !== "10" && query.v !== "9") {
      ws.close(4012, "Invalid API version");
      return;
    }
    ws.on("message", (data, isBinary) => this.onMessage(conn, data, isBinary));
    this.send(conn, {
      op: GatewayOp.Hello,
      d: { heartbeat_interval: this.heartbeatIntervalMs, _trace: ['["qwenbot-sim-gateway"]'] },
      s: null,
      t: null,
    });
  }

  private send(conn: Connection, payload: Json): void {
    const ws = conn.ws;
    const text = JSON.stringify(payload);
    if (conn.streamDeflate) {
      const deflate = conn.streamDeflate;
      conn.sendChain = conn.sendChain.then(
        () =>
          new Promise<void>((resolve) => {
            const chunks: Buffer[] = [];
            const onData = (c: Buffer) => chunks.push(c);
            deflate.on("data", onData);
            deflate.write(text);
            deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
              deflate.off("data", onData);
              if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat(chunks), { binary: true });
              resolve();
            });
          }),
      );
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    if (conn.identifyCompress) ws.send(zlib.deflateSync(text), { binary: true });
    else ws.send(text);
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    let payload: { op?: unknown; d?: unknown };
    try {
      const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data as ArrayBuffer).toString("utf8");
      if (isBinary && conn.streamDeflate) {
        // clients never compress what they send; binary frames are a decode error
        throw new Error("binary");
      }
      payload = JSON.parse(text) as { op?: unknown; d?: unknown };
    } catch {
      conn.ws.close(4002, "Error while decoding payload.");
      return;
    }
    const op = payload.op;
    this.received.push({ op: typeof op === "number" ? op : -1, d: payload.d, time: Date.now() });
    switch (op) {
      case GatewayOp.Heartbeat:
        this.heartbeats++;
        if (this.ackHeartbeats) this.send(conn, { op: GatewayOp.HeartbeatAck, d: null, s: null, t: null });
        return;
      case GatewayOp.Identify:
        this.onIdentify(conn, (payload.d ?? {}) as Json);
        return;
      case GatewayOp.Resume:
        this.onResume(conn, (payload.d ?? {}) as Json);
        return;
      case GatewayOp.PresenceUpdate:
      case GatewayOp.VoiceStateUpdate:
        if (!conn.session) conn.ws.close(4003, "Not authenticated.");
        return;
      case GatewayOp.RequestGuildMembers: {
        if (!conn.session) {
          conn.ws.close(4003, "Not authenticated.");
          return;
        }
        const chunks = this.hooks.membersChunk?.((payload.d ?? {}) as Json) ?? [];
        for (const chunk of chunks) this.dispatchTo(conn.session, "GUILD_MEMBERS_CHUNK", chunk);
        return;
      }
      default:
        conn.ws.close(4001, "Unknown opcode.");
    }
  }

  private onIdentify(conn: Connection, d: Json): void {
    if (conn.session) {
      conn.ws.close(4005, "Already authenticated.");
      return;
    }
    const token = typeof d.token === "string" ? d.token : "";
    const intents = typeof d.intents === "number" ? d.intents : Number.NaN;
    const shard = Array.isArray(d.shard) && d.shard.length === 2 ? ([Number(d.shard[0]), Number(d.shard[1])] as [number, number]) : null;
    if (!this.hooks.acceptToken(token)) {
      conn.ws.close(4004, "Authentication failed.");
      return;
    }
    if (!Number.isInteger(intents) || intents < 0 || (intents & ~ALL_INTENTS) !== 0) {
      conn.ws.close(4013, "Invalid intent(s).");
      return;
    }
    if ((intents & PRIVILEGED_INTENTS & ~this.hooks.allowedPrivilegedIntents) !== 0) {
      conn.ws.close(4014, "Disallowed intent(s).");
      return;
    }
    if (shard && !(Number.isInteger(shard[0]) && Number.isInteger(shard[1]) && shard[1] >= 1 && shard[0] >= 0 && shard[0] < shard[1])) {
      this.refusedIdentifies.push({ shard, reason: 4010, time: Date.now() });
      conn.ws.close(4010, "Invalid shard.");
      return;
    }
    if (this.hooks.shardingRequired?.(shard ?? [0, 1])) {
      this.refusedIdentifies.push({ shard, reason: 4011, time: Date.now() });
      conn.ws.close(4011, "Sharding required.");
      return;
    }
    const concurrency = this.hooks.identifyConcurrency?.();
    if (concurrency) {
      const key = (shard?.[0] ?? 0) % Math.max(1, concurrency.maxConcurrency);
      const now = Date.now();
      const last = this.identifyBuckets.get(key);
      if (concurrency.enforce && last !== undefined && now - last < 5000) {
        this.refusedIdentifies.push({ shard, reason: "max_concurrency", time: now });
        this.send(conn, { op: GatewayOp.InvalidSession, d: false, s: null, t: null });
        return;
      }
      this.identifyBuckets.set(key, now);
    }
    this.hooks.onSessionStart?.();
    const session: GatewaySession = {
      id: this.hooks.newSessionId(),
      seq: 0,
      intents,
      shard,
      conn,
      invalidated: false,
      log: [],
      pendingReplays: [],
      replayMark: 0,
    };
    this.sessions.set(session.id, session);
    conn.session = session;
    this.identifies.push({
      sessionId: session.id,
      intents,
      shard,
      token,
      compress: d.compress === true,
      properties: d.properties,
      time: Date.now(),
    });
    if (d.compress === true && !conn.streamDeflate) conn.identifyCompress = true;
    const ready = { ...this.hooks.readyData(session), session_id: session.id, resume_gateway_url: this.resumeUrl() };
    if (shard) (ready as Json).shard = shard;
    this.dispatchTo(session, "READY", ready);
    for (const { t, d: data } of this.hooks.afterReady(session)) this.dispatchTo(session, t, data);
  }

  private onResume(conn: Connection, d: Json): void {
    const sessionId = typeof d.session_id === "string" ? d.session_id : "";
    const seq = typeof d.seq === "number" ? d.seq : 0;
    const token = typeof d.token === "string" ? d.token : "";
    const session = this.sessions.get(sessionId);
    if (!this.hooks.acceptToken(token)) {
      conn.ws.close(4004, "Authentication failed.");
      return;
    }
    if (!session || session.invalidated || seq > session.seq) {
      this.resumes.push({ sessionId, seq, accepted: false, replayed: 0, time: Date.now() });
      this.send(conn, { op: GatewayOp.InvalidSession, d: false, s: null, t: null });
      return;
    }
    // a second socket resuming the session replaces the first
    if (session.conn && session.conn !== conn) {
      const old = session.conn;
      this.detach(old);
      old.ws.close(4000, "Session resumed elsewhere");
    }
    if (conn.session && conn.session !== session) this.detach(conn);
    this.conns.add(conn);
    conn.session = session;
    session.conn = conn;
    const replay: Array<{ s: number | null; t: string; d: unknown }> = [...session.pendingReplays];
    session.pendingReplays = [];
    if (this.duplicateKinds.size > 0) {
      for (const e of session.log) {
        if (e.s > session.replayMark && e.s <= seq && dispatchKinds(e.t, e.d).some((k) => this.duplicateKinds.has(k))) replay.push(e);
      }
    }
    for (const e of session.log) if (e.s > seq) replay.push(e);
    let replayed = 0;
    for (const e of replay) {
      let s = e.s;
      if (s === null) {
        s = ++session.seq;
        session.log.push({ s, t: e.t, d: e.d });
      }
      this.dispatchLog.push({ sessionId: session.id, s, t: e.t, d: e.d, delivered: true, replay: true, time: Date.now() });
      this.send(conn, { op: GatewayOp.Dispatch, d: e.d, s, t: e.t });
      replayed++;
    }
    this.resumes.push({ sessionId, seq, accepted: true, replayed, time: Date.now() });
    this.dispatchTo(session, "RESUMED", { _trace: ['["qwenbot-sim-gateway"]'] });
    session.replayMark = session.seq;
  }
}
