/**
 * Modals: `views.open` (`trigger_id` from a slash command or interaction — one use, within 3 s:
 * `invalid_trigger_id`, `exchanged_trigger_id`, `expired_trigger_id`), `views.push` (onto an open
 * modal, with a fresh trigger) and `views.update` (`view_id` or `external_id`, optional `hash` →
 * `hash_conflict`). A view is checked as Slack checks it (type modal, title ≤ 24 characters, ≤ 100
 * blocks, a submit button when it has inputs, ≤ 250 kB), refused with `invalid_arguments` and a
 * `response_metadata.messages` line. Submissions are sent by the facade's `submitView`.
 */
import type { SlackState } from "../state/SlackState.ts";
import type { SimView } from "../types.ts";
import { asString, blockText } from "../util.ts";
import { bot, type MethodDeps, type MethodSpec, SimApiError } from "./MethodSpec.ts";

/** Slack's limits on a modal. */
export const VIEW_MAX_TITLE = 24;
export const VIEW_MAX_BLOCKS = 100;
export const VIEW_MAX_BYTES = 250_000;
export const VIEW_MAX_PRIVATE_METADATA = 3000;

function invalid(message: string, pointer: string): SimApiError {
  return new SimApiError("invalid_arguments", { response_metadata: { messages: [`[ERROR] ${message} [json-pointer:/view${pointer}]`] } });
}

function checkView(raw: unknown): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalid("missing required field: view", "");
  const view = raw as Record<string, unknown>;
  if (JSON.stringify(view).length > VIEW_MAX_BYTES) throw new SimApiError("view_too_large");
  if (view.type !== "modal") throw invalid("must be modal", "/type");
  const title = typeof view.title === "object" && view.title !== null ? blockText({ text: view.title }) : "";
  if (title === "") throw invalid("missing required field: title", "/title");
  if (title.length > VIEW_MAX_TITLE) throw invalid(`must be less than ${VIEW_MAX_TITLE + 1} characters`, "/title/text");
  const blocks = view.blocks;
  if (!Array.isArray(blocks)) throw invalid("missing required field: blocks", "/blocks");
  if (blocks.length > VIEW_MAX_BLOCKS) throw invalid(`no more than ${VIEW_MAX_BLOCKS} items allowed`, "/blocks");
  const hasInput = blocks.some((b) => (b as Record<string, unknown>)?.type === "input");
  if (hasInput && view.submit === undefined) throw invalid("must provide a submit property when an input block is present", "/submit");
  const meta = asString(view.private_metadata);
  if (meta !== undefined && meta.length > VIEW_MAX_PRIVATE_METADATA)
    throw invalid("must be less than 3001 characters", "/private_metadata");
  return view;
}

/** The view object Slack answers and sends back on submission. */
export function viewShape(state: SlackState, record: SimView, previousViewId: string | null = null): Record<string, unknown> {
  const team = state.team(record.teamId);
  const id = record.id;
  return {
    id,
    team_id: team.id,
    type: "modal",
    private_metadata: "",
    callback_id: "",
    external_id: "",
    clear_on_close: false,
    notify_on_close: false,
    close: null,
    submit: null,
    ...record.view,
    state: { values: {} },
    hash: `${Math.floor(Date.now() / 1000)}.${id.slice(1, 9)}${record.versions.length}`,
    previous_view_id: previousViewId,
    root_view_id: (record.view as { root_view_id?: string }).root_view_id ?? id,
    app_id: state.appId,
    app_installed_team_id: team.id,
    bot_id: team.botId,
  };
}

export function viewsMethods({ state }: MethodDeps): Record<string, MethodSpec> {
  const exchange = (teamId: string, params: Record<string, unknown>): string => {
    const trigger = asString(params.trigger_id) ?? asString(params.interactivity_pointer);
    if (trigger === undefined || trigger === "") {
      throw new SimApiError("invalid_arguments", { response_metadata: { messages: ["invalid `trigger_id`"] } });
    }
    const result = state.views.exchange(trigger, teamId);
    if ("error" in result) throw new SimApiError(result.error);
    return result.userId;
  };
  const hashes = new Map<string, string>();
  const answer = (record: SimView, previous: string | null = null): Record<string, unknown> => {
    const view = viewShape(state, record, previous);
    hashes.set(record.id, String(view.hash));
    return { view };
  };
  return {
    "views.open": bot(({ team, params }) => {
      const view = checkView(params.view);
      const externalId = asString(view.external_id);
      if (externalId && state.views.byExternalId(team.id, externalId)) throw new SimApiError("duplicate_external_id");
      const user = exchange(team.id, params);
      return answer(state.views.open(team.id, user, view));
    }),
    "views.push": bot(({ team, params }) => {
      const view = checkView(params.view);
      const user = exchange(team.id, params);
      const open = [...state.views.views.values()].filter((v) => v.teamId === team.id && v.user === user && !v.closed);
      const top = open[open.length - 1];
      if (!top) throw new SimApiError("not_found");
      const record = state.views.open(team.id, user, { ...view, root_view_id: (top.view.root_view_id as string) ?? top.id });
      return answer(record, top.id);
    }),
    "views.update": bot(({ team, params }) => {
      const view = checkView(params.view);
      const viewId = asString(params.view_id);
      const externalId = asString(params.external_id);
      const record =
        viewId !== undefined && viewId !== ""
          ? state.views.views.get(viewId)
          : externalId !== undefined
            ? state.views.byExternalId(team.id, externalId)
            : undefined;
      if (!record || record.teamId !== team.id) throw new SimApiError("not_found");
      const hash = asString(params.hash);
      if (hash !== undefined && hash !== "" && hash !== hashes.get(record.id)) throw new SimApiError("hash_conflict");
      record.view = { ...view, ...(record.view.root_view_id !== undefined ? { root_view_id: record.view.root_view_id } : {}) };
      record.versions.push(record.view);
      return answer(record);
    }),
  };
}
