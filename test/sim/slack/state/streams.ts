/**
 * A message being streamed with chat.startStream / appendStream / stopStream, and how Slack closes a
 * stream by itself: after an idle spell or a maximum age (reported at about 5 minutes, undocumented),
 * after which appendStream and stopStream answer `message_not_in_streaming_state` and the message
 * keeps the text it had (chat.update then works on it again).
 */

export interface StreamRecord {
  state: "streaming" | "stopped" | "expired";
  startedAt: number;
  lastActivityAt: number;
  appends: number;
  chunks: unknown[];
  recipientUserId?: string;
  recipientTeamId?: string;
  stopBlocks?: unknown[];
  truncated?: boolean;
}

export interface StreamLimits {
  streamIdleTimeoutMs: number;
  streamMaxAgeMs: number;
}

/** Slack's default (reported) stream lifetime. */
export const STREAM_DEFAULT_LIMIT_MS = 300_000;

/** Marks the stream expired when its idle or age limit has passed; returns its state now. */
export function refreshStream(stream: StreamRecord, limits: StreamLimits, now = Date.now()): StreamRecord["state"] {
  if (stream.state === "streaming") {
    if (now - stream.lastActivityAt >= limits.streamIdleTimeoutMs || now - stream.startedAt >= limits.streamMaxAgeMs) {
      stream.state = "expired";
    }
  }
  return stream.state;
}
