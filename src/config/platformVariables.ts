/** The variables of the platform adapters: Discord and Slack. */
import { z } from "zod";
import { bool, httpUrl, int, list } from "./configValues.ts";
import { discordShards } from "./discordShards.ts";

export const discord = {
  DISCORD_TOKEN: z
    .string()
    .trim()
    .optional()
    .describe(
      "The bot token: enables the Discord adapter in `npm start`, and Discord replies on workers (which need only this token: they edit through the REST API).",
    ),
  DISCORD_API_URL: httpUrl.optional().meta({
    description:
      "Another REST API base URL, e.g. a REST proxy such as nirn-proxy (`http://proxy:8080/api`) or a test simulator; the gateway URL is then discovered through it.",
    unset: "Discord's (`https://discord.com/api`)",
  }),
  DISCORD_THREAD_PER_MENTION: bool
    .default(false)
    .describe("A mention in a channel opens a thread named after the question, and the conversation continues there."),
  DISCORD_ALLOW_DMS: bool
    .default(true)
    .describe("Answer direct messages. When off, a DM gets a short answer: mention me in a server channel instead."),
  DISCORD_ALLOWED_GUILDS: list.optional().meta({ description: "Comma-separated server (guild) ids the bot answers in.", unset: "all" }),
  DISCORD_ALLOWED_CHANNELS: list.optional().meta({
    description: "Comma-separated channel ids the bot answers in (a thread counts as its parent channel).",
    unset: "all",
  }),
  DISCORD_ALLOWED_ROLES: list.optional().meta({
    description:
      "Comma-separated role ids: when this or `DISCORD_ALLOWED_USERS` is set, only people holding one of these roles or listed there may use the bot (in DMs there are no roles: only the user list lets someone in).",
    unset: "everyone",
  }),
  DISCORD_ALLOWED_USERS: list.optional().meta({
    description: "Comma-separated user ids allowed to use the bot (see `DISCORD_ALLOWED_ROLES`).",
    unset: "everyone",
  }),
  DISCORD_SETTINGS_ROLES: list.optional().meta({
    description:
      "Comma-separated role ids whose members may use `/settings` at every scope, besides members with Manage Channels (channel and thread settings) or Manage Server (server settings).",
    unset: "only those permissions",
  }),
  DISCORD_COMMAND_GUILD: z.string().trim().optional().meta({
    description:
      "Register the slash commands (`/ask`, `/reset`, `/settings`, `/help`, `/imagine`) in this server (guild) only: they appear at once, while global registration can take a while to show up everywhere.",
    unset: "global commands",
  }),
  DISCORD_MESSAGE_CONTENT_INTENT: bool
    .default(false)
    .describe(
      "Ask for the privileged Message Content intent (enable it in the Developer Portal first): needed only to read un-mentioned messages in threads the bot opened.",
    ),
  DISCORD_SHARDS: discordShards.optional().meta({
    description:
      "Gateway shards this adapter process runs: `auto` (every shard Discord recommends), or ids with the total, e.g. `0-3/8` in one process and `4-7/8` in another (Discord requires sharding past 2,500 servers; DMs arrive on shard 0).",
    unset: "one shard",
  }),
};

export const slack = {
  SLACK_BOT_TOKEN: z
    .string()
    .trim()
    .optional()
    .describe(
      "Bot User OAuth Token (`xoxb-…`), or several comma-separated, one per workspace the app is installed in: enables the Slack adapter in `npm start`, and workers need it to edit replies.",
    ),
  SLACK_APP_TOKEN: z
    .string()
    .trim()
    .optional()
    .describe(
      "App-level token (`xapp-…`, scope `connections:write`): Socket Mode, no public URL needed. Wins when both modes are configured.",
    ),
  SLACK_SIGNING_SECRET: z
    .string()
    .trim()
    .optional()
    .describe("Signing secret: HTTP mode (events at `/slack/events` on `SLACK_PORT`), used when `SLACK_APP_TOKEN` is not set."),
  SLACK_PORT: int(0, 65535).default(3000).describe("HTTP mode: the port of the `/slack/events` endpoint."),
  SLACK_API_URL: httpUrl.optional().meta({
    description:
      "Another Web API base URL (GovSlack: `https://slack-gov.com/api/`, a proxy, or a test simulator). Socket Mode's connection is opened through it too.",
    unset: "Slack's (`https://slack.com/api/`)",
  }),
  SLACK_THREAD_FOLLOWUPS: bool.default(true).describe("In threads the bot started, plain messages (no mention) continue the conversation."),
  SLACK_EDITS_PER_MINUTE: int(1, 1000)
    .default(50)
    .describe(
      "Message edits and posts per minute per workspace, shared by every live reply and every process there (Slack's `chat.update` is Tier 3, about 50 a minute).",
    ),
  SLACK_STREAMING: bool
    .default(true)
    .describe(
      "Stream replies with Slack's streaming methods (`chat.startStream` / `appendStream` / `stopStream`) in workspaces that have them; a workspace that refuses them falls back to `chat.update` edits for 30 minutes. `false`: always edit.",
    ),
  SLACK_STREAM_UPDATES_PER_MINUTE: int(1, 10_000)
    .default(400)
    .describe(
      '`chat.appendStream` calls per minute per workspace, shared by every streaming reply and process there (Slack\'s Tier 4: "100+ per minute"); a 429 pauses the workspace for its Retry-After and halves the rate, never below 100, then it climbs back.',
    ),
  SLACK_SETTINGS_USERS: list.optional().meta({
    description:
      "Comma-separated Slack user ids (`U…`) who may change the bot's settings with `/ask-settings`, besides the workspace's admins and owners.",
    unset: "admins and owners only",
  }),
  SLACK_THREAD_CONTEXT_MESSAGES: int(0, 1000)
    .default(100)
    .describe(
      "A mention in a thread the bot did not start reads up to this many of the thread's earlier messages (`conversations.replies`) into the question's context, newest kept first when they do not all fit; 0: none.",
    ),
  SLACK_IMAGE_PREVIEW_INTERVAL_MS: int(0, 600_000)
    .default(4000)
    .describe(
      "`/imagine` on Slack: at most one preview upload per picture this often (each preview is an upload shared into the thread, and the one before it is deleted); the final picture always goes up.",
    ),
};
