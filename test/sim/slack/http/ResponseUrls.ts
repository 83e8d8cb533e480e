/**
 * `response_url`s handed out with slash commands and interactive payloads (`POST /response/<id>`):
 * each takes 5 posts, then 404 `used_url`. A post replaces or deletes the original message, posts
 * in the channel (`response_type: "in_channel"`), or shows an ephemeral message to the user.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import { SLACK_MAX_TEXT } from "../methods/limits.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { TeamState } from "../state/Workspaces.ts";
import type { SimEphemeral, SimResponseUrlPost } from "../types.ts";
import { asArray, asBool, asString, readBody } from "../util.ts";

/** Posts a `response_url` takes. */
export const RESPONSE_URL_MAX_USES = 5;

export interface ResponseUrlTarget {
  teamId: string;
  channel: string;
  userId: string;
  /** the message the interaction came from (replace_original / delete_original act on it) */
  messageTs?: string;
  threadTs?: string;
}

interface ResponseUrlState extends ResponseUrlTarget {
  id: string;
  uses: number;
}

export class ResponseUrls {
  /** posts to response_urls, oldest first */
  readonly log: SimResponseUrlPost[] = [];
  private readonly urls = new Map<string, ResponseUrlState>();

  constructor(
    private readonly state: SlackState,
    private readonly echo: (team: TeamState, event: Record<string, unknown>) => void,
  ) {}

  /** A fresh response_url for `target`. */
  create(target: ResponseUrlTarget): string {
    const id = randomBytes(12).toString("hex");
    this.urls.set(id, { ...target, id, uses: 0 });
    return `${this.state.baseUrl}/response/${id}`;
  }

  async handle(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const target = this.urls.get(id);
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : {};
    } catch {
      const form = parseQuery(raw);
      body = typeof form.payload === "string" ? JSON.parse(form.payload) : form;
    }
    const reply = (status: number, payload: Record<string, unknown>): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (!target) {
      reply(404, { ok: false, error: "invalid_url" });
      return;
    }
    target.uses += 1;
    const status = target.uses > RESPONSE_URL_MAX_USES ? 404 : 200;
    this.log.push({ id, teamId: target.teamId, channel: target.channel, body, time: Date.now(), status });
    if (status !== 200) {
      reply(404, { ok: false, error: "used_url" });
      return;
    }
    const { state } = this;
    const team = state.team(target.teamId);
    const msg = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const text = asString(msg.text) ?? "";
    const blocks = asArray(msg.blocks);
    if (text.length > SLACK_MAX_TEXT) {
      reply(200, { ok: false, error: "msg_too_long" });
      return;
    }
    if (asBool(msg.delete_original) && target.messageTs !== undefined) {
      const original = state.messages.find(team, target.channel, target.messageTs);
      if (original) original.deleted = true;
    } else if (asBool(msg.replace_original) && target.messageTs !== undefined) {
      const original = state.messages.find(team, target.channel, target.messageTs);
      if (original) {
        original.text = text;
        if (blocks) original.blocks = blocks;
        original.versions.push(text);
        original.edits += 1;
      }
    } else if (msg.response_type === "in_channel") {
      const threadTs = asString(msg.thread_ts) ?? target.threadTs;
      const posted = state.messages.storeBot(team, target.channel, { text, blocks, threadTs, params: msg });
      if (state.settings.echoBotPosts) setImmediate(() => this.echo(team, state.messageEvent(team, posted)));
    } else {
      const ephemeral: SimEphemeral = {
        channel: target.channel,
        team: team.id,
        user: target.userId,
        text,
        message_ts: state.nextTs(),
        via: "response_url",
      };
      if (blocks) ephemeral.blocks = blocks;
      team.ephemerals.push(ephemeral);
    }
    reply(200, { ok: true });
  }
}
