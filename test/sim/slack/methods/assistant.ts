/**
 * `assistant.threads.*`, as documented: setStatus (`channel_id`, `thread_ts`, `status` — "" clears
 * it; optional `loading_messages`, at most 10; cleared by the bot's next reply in the thread or after
 * two minutes; works in channel threads too), setSuggestedPrompts (`channel_id`, `prompts` [{title,
 * message}] at most 4, optional `thread_ts`, `title`) and setTitle (`channel_id`, `thread_ts`,
 * `title`; the thread's root message changes, and Slack sends that `message_changed`).
 * An unknown channel answers `channel_not_found`, a thread_ts that is no message there `invalid_thread_ts`.
 */
import { channelTypeIn } from "../state/messageShapes.ts";
import type { SlackState } from "../state/SlackState.ts";
import type { TeamState } from "../state/Workspaces.ts";
import { asArray, asString } from "../util.ts";
import { bot, type MethodDeps, type MethodSpec, SimApiError } from "./MethodSpec.ts";

/** Most loading messages setStatus takes. */
export const ASSISTANT_MAX_LOADING_MESSAGES = 10;
/** Most suggested prompts a thread shows. */
export const ASSISTANT_MAX_PROMPTS = 4;

function invalid(message: string): SimApiError {
  return new SimApiError("invalid_arguments", { response_metadata: { messages: [`[ERROR] ${message}`] } });
}

/** The channel (known in the workspace) and thread (a message in it) a call names. */
function thread(state: SlackState, team: TeamState, params: Record<string, unknown>, threadRequired: boolean) {
  const channel = asString(params.channel_id);
  if (channel === undefined || channel === "" || !team.channels.has(channel)) {
    throw new SimApiError("channel_not_found", { detail: "Invalid channel_id" });
  }
  const threadTs = asString(params.thread_ts);
  if (threadTs === undefined || threadTs === "") {
    if (threadRequired) throw new SimApiError("invalid_thread_ts", { detail: "Thread not found" });
    return { channel, threadTs: undefined };
  }
  const message = state.messages.find(team, channel, threadTs);
  if (!message || message.deleted) throw new SimApiError("invalid_thread_ts", { detail: "Thread not found" });
  return { channel, threadTs: message.threadTs ?? message.ts };
}

export function assistantMethods({ state, echo }: MethodDeps): Record<string, MethodSpec> {
  return {
    "assistant.threads.setStatus": bot(({ team, params }) => {
      const where = thread(state, team, params, true);
      const status = params.status;
      if (typeof status !== "string") throw invalid("missing required field: status");
      const loading = params.loading_messages;
      if (loading !== undefined && loading !== null && loading !== "") {
        if (!Array.isArray(loading) || loading.some((m) => typeof m !== "string"))
          throw invalid("loading_messages must be an array of strings");
        if (loading.length > ASSISTANT_MAX_LOADING_MESSAGES) throw invalid(`at most ${ASSISTANT_MAX_LOADING_MESSAGES} loading_messages`);
      }
      const record = state.assistant.get(team.id, where.channel, where.threadTs ?? "");
      record.status = status;
      record.statusSetAt = Date.now();
      record.statusHistory.push(status);
      if (Array.isArray(loading)) record.loadingMessages = loading.map(String);
      else delete record.loadingMessages;
      return {};
    }),
    "assistant.threads.setSuggestedPrompts": bot(({ team, params }) => {
      const where = thread(state, team, params, false);
      const prompts = asArray(params.prompts);
      if (!prompts) throw invalid("missing required field: prompts");
      if (prompts.length > ASSISTANT_MAX_PROMPTS) throw invalid(`at most ${ASSISTANT_MAX_PROMPTS} prompts`);
      const list = prompts.map((p) => {
        const prompt = p as Record<string, unknown>;
        if (typeof prompt?.title !== "string" || typeof prompt?.message !== "string") throw invalid("each prompt needs title and message");
        return { title: prompt.title, message: prompt.message };
      });
      const record = state.assistant.get(team.id, where.channel, where.threadTs ?? "");
      record.prompts = list;
      const title = asString(params.title);
      if (title !== undefined) record.promptsTitle = title;
      else delete record.promptsTitle;
      return {};
    }),
    "assistant.threads.setTitle": bot(({ team, params, after }) => {
      const where = thread(state, team, params, true);
      const title = asString(params.title);
      if (title === undefined || title === "") throw invalid("missing required field: title");
      const record = state.assistant.get(team.id, where.channel, where.threadTs ?? "");
      record.title = title;
      const root = state.messages.find(team, where.channel, where.threadTs ?? "");
      if (root?.assistantAppThread) {
        const previous = state.shape(root, team);
        root.assistantAppThread.title = title;
        root.text = title;
        root.versions.push(title);
        const ts = state.nextTs();
        root.editedTs = ts;
        const event = {
          type: "message",
          subtype: "message_changed",
          hidden: true,
          message: state.shape(root, team),
          previous_message: previous,
          channel: root.channel,
          event_ts: ts,
          ts,
          channel_type: channelTypeIn(team, root.channel),
        };
        after.push(() => echo(team, event));
      }
      return {};
    }),
  };
}
