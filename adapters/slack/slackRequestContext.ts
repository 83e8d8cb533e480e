/**
 * What a Slack message points at, gathered after it is claimed and while its placeholder shows:
 * the files shared with it (slackFiles) and, for a mention in a thread the bot did not start, the
 * thread's earlier messages (slackThreadContext). Undefined when there is nothing; never throws (a
 * failure is a note, or no context).
 */
import type { Config } from "../../src/config.ts";
import { hasContext, type RequestContext } from "../../src/context/RequestContext.ts";
import { readAttachmentOptionsFrom } from "../../src/context/readAttachment.ts";
import type { Logger } from "../../src/logger.ts";
import type { SlackUserNames } from "./SlackUserNames.ts";
import { readSlackFiles, type SlackFileRef } from "./slackFiles.ts";
import { readThreadContext } from "./slackThreadContext.ts";
import type { WebClient } from "./slackWorkspaces.ts";

/** The text the model gets when a message is only files (the intake refuses an empty message). */
export const FILES_ONLY_TEXT = "Please look at the attached file.";

export interface SlackContextSource {
  teamId: string;
  channelId: string;
  ts: string;
  threadTs?: string;
  files?: SlackFileRef[];
  /** The workspace's bot token, for file downloads. */
  botToken?: string;
}

export interface SlackContextDeps {
  config: Config;
  log: Logger;
  names: SlackUserNames;
}

export async function gatherSlackContext(
  deps: SlackContextDeps,
  client: WebClient,
  m: SlackContextSource,
  bot: { userId: string; botId?: string },
  readThread: boolean,
): Promise<RequestContext | undefined> {
  const { config, log } = deps;
  const files = m.files ?? [];
  const [attachments, thread] = await Promise.all([
    files.length > 0 ? readSlackFiles(client, m.botToken, files, readAttachmentOptionsFrom(config), log) : undefined,
    readThread && m.threadTs
      ? readThreadContext(
          client,
          {
            channelId: m.channelId,
            threadTs: m.threadTs,
            beforeTs: m.ts,
            botUserId: bot.userId,
            ...(bot.botId ? { botId: bot.botId } : {}),
            limit: config.SLACK_THREAD_CONTEXT_MESSAGES,
            name: (userId) => deps.names.lookup(client, m.teamId, userId, undefined),
          },
          log,
        )
      : undefined,
  ]).catch((err: unknown) => {
    log.warn({ err }, "could not gather the message's context");
    return [undefined, undefined];
  });
  const context: RequestContext = {};
  if (attachments && attachments.length > 0) context.attachments = attachments;
  if (thread && thread.length > 0) context.thread = thread;
  return hasContext(context) ? context : undefined;
}
