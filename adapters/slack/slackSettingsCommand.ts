/**
 * `/ask-settings`: show and change the bot's settings for a workspace, a channel or a thread, from
 * one slash command (Slack gives a command one text field):
 *
 *   /ask-settings show [workspace|channel|thread <link>]
 *   /ask-settings set [workspace|channel|thread <link>] <setting> <value…>
 *   /ask-settings reset [workspace|channel|thread <link>] <setting|all>
 *
 * The scope defaults to the channel the command is typed in. Slack never sends a command from
 * inside a thread, so a thread is named by a link to one of its messages ("Copy link") or by its
 * `ts`. Anyone may `show`; `set` and `reset` need a workspace admin or owner (`users.info`:
 * `is_admin` / `is_owner`) or a user listed in SLACK_SETTINGS_USERS — a refusal says so. The
 * SettingsStore validates (refusing out-of-range values with the allowed range, storing nothing),
 * stores and audits every change (who, what, when); every answer is ephemeral.
 */
import type { Logger } from "../../src/logger.ts";
import { formatShownSettings } from "../../src/settings/formatSettings.ts";
import type { SettingsStore } from "../../src/settings/SettingsStore.ts";
import { SETTING_KEYS, SETTING_NAMES } from "../../src/settings/settingsCatalog.ts";
import { type ScopeLevel, type SettingsScope, scopeOf } from "../../src/settings/settingsScope.ts";
import type { ChatPlace } from "../../src/types.ts";
import { fromSlackText } from "./slackMessages.ts";
import type { WebClient } from "./slackWorkspaces.ts";

export const SETTINGS_COMMAND = "/ask-settings";

/** Who typed the command, and where. */
export interface SlackCommandPlace {
  teamId: string;
  channelId: string;
  userId: string;
  userName?: string;
}

export const SETTINGS_USAGE = [
  "*`/ask-settings`* — my settings here:",
  "• `/ask-settings show [workspace|channel|thread <link>]` — what is in force and where it comes from",
  "• `/ask-settings set [workspace|channel|thread <link>] <setting> <value>` — e.g. `/ask-settings set temperature 0.3`, `/ask-settings set system-prompt You are a pirate.`",
  "• `/ask-settings reset [workspace|channel|thread <link>] <setting|all>` — back to the level above",
  "The scope is this channel unless you name one; a thread is named by a link to one of its messages (⋯ → Copy link).",
  `Settings: ${SETTING_KEYS.map((k) => `\`${SETTING_NAMES[k]}\``).join(", ")}.`,
  "Changing them needs a workspace admin or owner (or a user the operator listed in `SLACK_SETTINGS_USERS`).",
].join("\n");

/** What a refused change says: which permission is needed. */
export const SETTINGS_REFUSAL =
  "Only workspace admins and owners can change my settings (or people the bot's operator listed in `SLACK_SETTINGS_USERS`). " +
  "Ask one of them; `/ask-settings show` shows the current settings to anyone.";

/** Takes the first word off `rest`. */
function nextWord(rest: string): [string | undefined, string] {
  const m = /^\s*(\S+)\s*/.exec(rest);
  if (!m) return [undefined, ""];
  return [m[1], rest.slice(m[0].length)];
}

/**
 * A thread named in a command: a message link (`https://x.slack.com/archives/C1/p1700000000123456`,
 * a reply's link with `?thread_ts=…`), in Slack's `<url>` / `<url|label>` escaping or bare, or a ts.
 */
export function parseThreadRef(ref: string, channelId: string): { channelId: string; threadTs: string } | undefined {
  const url = /^<([^|>]+)(?:\|[^>]*)?>$/.exec(ref)?.[1] ?? ref;
  const ts = /^(\d{10})\.?(\d{6})$/.exec(url);
  if (ts) return { channelId, threadTs: `${ts[1]}.${ts[2]}` };
  const link = /\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})(?:\?(.*))?$/.exec(url);
  if (!link) return undefined;
  const query = new URLSearchParams((link[4] ?? "").replace(/&amp;/g, "&"));
  const threadTs = query.get("thread_ts");
  return { channelId: link[1]!, threadTs: threadTs && /^\d+\.\d+$/.test(threadTs) ? threadTs : `${link[2]}.${link[3]}` };
}

export class SlackSettingsCommand {
  constructor(
    private readonly store: SettingsStore,
    /** SLACK_SETTINGS_USERS. */
    private readonly allowedUsers: readonly string[],
    private readonly log: Logger,
  ) {}

  /** Runs the command; resolves the ephemeral answer. */
  async run(client: WebClient, place: SlackCommandPlace, text: string): Promise<string> {
    const [actionWord, afterAction] = nextWord(text);
    const action = actionWord?.toLowerCase();
    if (action === undefined || action === "help") return SETTINGS_USAGE;
    if (action !== "show" && action !== "set" && action !== "reset") {
      return `I don't know \`${clip(actionWord ?? "", 30)}\`: use \`show\`, \`set\` or \`reset\`.\n\n${SETTINGS_USAGE}`;
    }
    const scoped = this.scope(place, afterAction);
    if ("error" in scoped) return scoped.error;
    const { scope, rest } = scoped;
    try {
      if (action === "show") return formatShownSettings(await this.store.show(scope));
      const allowed = await this.mayChange(client, place);
      if (allowed !== true) {
        this.log.info({ userId: place.userId, action, reason: allowed }, "settings change refused");
        return allowed === "lookup-failed"
          ? "I couldn't check your role in this workspace right now (Slack did not answer `users.info`); please try again in a moment."
          : SETTINGS_REFUSAL;
      }
      const actor = { id: place.userId, name: place.userName ?? place.userId };
      const [name, value] = nextWord(rest);
      if (name === undefined) return `Which setting? ${action === "set" ? "`set <setting> <value>`" : "`reset <setting|all>`"}.`;
      if (action === "reset") {
        if (value.trim() !== "") return `\`reset\` takes a setting name only (got \`${clip(value.trim(), 40)}\` after it).`;
        return (await this.store.reset(scope, name.toLowerCase() === "all" ? "all" : name, actor)).message;
      }
      const raw = fromSlackText(value).trim();
      if (raw === "") return `\`set ${name}\` needs a value: \`/ask-settings set ${name} <value>\`.`;
      return (await this.store.set(scope, name, raw, actor)).message;
    } catch (err) {
      this.log.warn({ err }, "settings command failed");
      return "I couldn't read or store settings right now (Redis is not answering); nothing was changed. Please try again in a moment.";
    }
  }

  /** The scope the command names (after the action), and the text after it. */
  private scope(place: SlackCommandPlace, text: string): { scope: SettingsScope; rest: string } | { error: string } {
    const [word, afterWord] = nextWord(text);
    const level = word?.toLowerCase();
    const here: ChatPlace = { platform: "slack", workspaceId: place.teamId, channelId: place.channelId };
    const at = (l: ScopeLevel, p: ChatPlace, rest: string) => ({ scope: scopeOf(p, l), rest });
    if (level === "workspace" || level === "team") return at("workspace", here, afterWord);
    if (level === "channel") return at("channel", here, afterWord);
    if (level === "thread") {
      const [ref, afterRef] = nextWord(afterWord);
      const thread = ref === undefined ? undefined : parseThreadRef(ref, place.channelId);
      if (!thread) {
        return {
          error:
            "Name the thread with a link to one of its messages (hover a message in it → ⋯ → Copy link): " +
            "`/ask-settings set thread https://…/archives/C…/p… temperature 0.3`. Commands can't be typed inside threads in Slack.",
        };
      }
      return at("thread", { ...here, channelId: thread.channelId, threadId: thread.threadTs }, afterRef);
    }
    return at("channel", here, text);
  }

  /** True, or why not: listed users and workspace admins/owners may change settings. */
  private async mayChange(client: WebClient, place: SlackCommandPlace): Promise<true | "not-admin" | "lookup-failed"> {
    if (this.allowedUsers.includes(place.userId)) return true;
    try {
      const res = await client.users.info({ user: place.userId });
      const u = res.user;
      return u?.is_admin === true || u?.is_owner === true || u?.is_primary_owner === true ? true : "not-admin";
    } catch (err) {
      this.log.warn({ err: (err as { data?: { error?: string } }).data?.error ?? String(err) }, "users.info failed");
      return "lookup-failed";
    }
  }
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
