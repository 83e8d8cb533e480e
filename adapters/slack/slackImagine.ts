/**
 * `/imagine <prompt> [no:<negative>] [size:WxH] [steps:N] [seed:N]` on Slack, through the image
 * lane (ImagineIntake: claim, checks, per-user limit, place in line, queue). Like `/ask`, the
 * request is posted as a new thread's parent (who asked, the prompt quoted) and answered in that
 * thread: a placeholder at once — its place in line, and Stop — that the image worker fills
 * (SlackSink.showImage: previews then the final picture shared into the thread). The thread is the
 * bot's, so a follow-up there ("make it darker?") continues the conversation that remembers the
 * picture.
 *
 * Refusals (no engine configured, an empty or too long prompt, an option out of range — naming the
 * allowed range —, too many requests) are ephemeral and leave nothing posted. Request ids carry
 * `-imagine-` so Stop is routed to the image lane (`isImagineRequestId`).
 */
import { ImageOptionRejectedError } from "../../src/errors.ts";
import { IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE } from "../../src/images/imagineText.ts";
import { parseImagineText } from "../../src/images/parseImagineText.ts";
import type { AdapterDeps } from "../../src/intake/AdapterDeps.ts";
import type { IntakeDraft, IntakePlatform } from "../../src/intake/Intake.ts";
import { SlackKeys } from "../../src/keys.ts";
import type { Logger } from "../../src/logger.ts";
import type { SettingsStore } from "../../src/settings/SettingsStore.ts";
import type { ReplyTarget } from "../../src/types.ts";
import type { Respond } from "./SlackConversations.ts";
import { MESSAGE_REQUEST_TTL_SECONDS } from "./SlackSink.ts";
import type { SlackUserNames } from "./SlackUserNames.ts";
import { cannotPostText, fromSlackText, streamingBlocks } from "./slackMessages.ts";
import { checkPlace, slackDraft } from "./slackPlaceSettings.ts";
import type { SlackCommandPlace } from "./slackSettingsCommand.ts";
import type { WebClient } from "./slackWorkspaces.ts";

export const IMAGINE_COMMAND = "/imagine";

export const IMAGINE_USAGE =
  'Make a picture: `/imagine <prompt>`, with options anywhere in the text — `no:<what to avoid>` (quote spaces: `no:"text, watermark"`), ' +
  "`size:512x512`, `steps:20`, `seed:42`. Example: `/imagine a lighthouse at dawn, oil painting size:768x512 steps:30 no:blurry`.";

/** Whether a request id is an /imagine's (Stop goes to the image lane). */
export function isImagineRequestId(requestId: string): boolean {
  return /^slack-[^-]+-imagine-/.test(requestId);
}

/** The placeholder's words: its place in line, then that the picture is on its way. */
export function imaginePlaceholderText(ahead: number): string {
  return ahead > 0
    ? `⏳ Waiting — ${ahead} picture${ahead === 1 ? "" : "s"} ahead of yours in this conversation…`
    : "🎨 Starting your picture… (previews appear below)";
}

/** The thread parent of an /imagine: who asked, and the prompt quoted (nothing pings). */
function askedForPicture(userId: string, text: string): string {
  const quoted = text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .split("\n")
    .map((l) => `> ${l}`)
    .join("\n");
  return `<@${userId}> asked for a picture:\n${quoted}`;
}

const errorCode = (err: unknown): string | undefined => (err as { data?: { error?: string } }).data?.error;

export class SlackImagine {
  private readonly keys: SlackKeys;

  constructor(
    private readonly deps: AdapterDeps,
    private readonly settings: SettingsStore,
    private readonly names: SlackUserNames,
    private readonly log: Logger,
  ) {
    this.keys = new SlackKeys(deps.keys);
  }

  /** `/imagine …` (already acknowledged). */
  async command(client: WebClient, place: SlackCommandPlace & { triggerId: string }, rawText: string, respond: Respond): Promise<void> {
    const tell = (text: string): Promise<void> =>
      respond({ response_type: "ephemeral", text }).then(
        () => undefined,
        (err: unknown) => this.log.warn({ err }, "could not answer /imagine"),
      );
    const imagine = this.deps.imagine;
    if (!imagine) return void (await tell(IMAGE_ENGINE_NOT_CONFIGURED_MESSAGE));
    const text = fromSlackText(rawText).trim();
    if (text === "" || /^(help|\?)$/i.test(text)) return void (await tell(IMAGINE_USAGE));
    let input: ReturnType<typeof parseImagineText>;
    try {
      input = parseImagineText(text);
    } catch (err) {
      if (err instanceof ImageOptionRejectedError) return void (await tell(err.userMessage));
      throw err;
    }
    const requestId = `slack-${place.teamId}-imagine-${place.triggerId}`;
    const posted: string[] = [];
    let threadTs = "";
    const withdraw = async (ts: string) => {
      await client.chat.delete({ channel: place.channelId, ts }).catch((err: unknown) => {
        this.log.warn({ err: errorCode(err) ?? String(err) }, "could not delete a withdrawn /imagine message");
      });
    };
    const platform: IntakePlatform = {
      refuse: (r) => tell(r.code === "IMAGE_OPTION_INVALID" ? `${r.userMessage}\n${IMAGINE_USAGE}` : r.userMessage),
      prepare: async (): Promise<IntakeDraft | null> => {
        const here = await checkPlace(this.settings, this.log, { ...place, threadTs: "" });
        if (!here.enabled) return tell(here.userMessage).then(() => null);
        try {
          const parent = await client.chat.postMessage({
            channel: place.channelId,
            text: askedForPicture(place.userId, input.prompt ?? text),
            unfurl_links: false,
            unfurl_media: false,
          });
          if (!parent.ts) throw new Error("no ts");
          threadTs = parent.ts;
          posted.push(parent.ts);
        } catch (err) {
          this.log.warn({ err: errorCode(err) ?? String(err), channel: place.channelId }, "could not post the /imagine request");
          return tell(cannotPostText(errorCode(err))).then(() => null);
        }
        const name = this.names.lookup(client, place.teamId, place.userId, place.userName);
        return slackDraft({ ...place, threadTs, requestId }, here.memoryScope, name, undefined);
      },
      postPlaceholder: (_draft, ahead) => this.postPlaceholder(client, place, threadTs, requestId, ahead, posted, tell),
      withdraw: async (placeholder, refusal) => {
        for (const ts of [placeholder?.messageId, ...posted]) if (ts) await withdraw(ts);
        if (refusal) await tell(refusal.userMessage);
      },
    };
    await imagine.take({ input, claimKey: this.keys.claim(requestId) }, platform);
  }

  /**
   * Stop: the image worker interrupts the engine and keeps the last preview, marked stopped. As for
   * text replies, only the person who asked or a workspace admin/owner may stop a picture; the
   * refusal (ephemeral) says so.
   */
  async stop(client: WebClient, requestId: string, userId: string): Promise<string | undefined> {
    const imagine = this.deps.imagine;
    if (!imagine) return undefined;
    const raw = await this.deps.redis.get(imagine.keys.request(requestId)).catch(() => null);
    const askerId = raw ? (JSON.parse(raw) as { author?: { id?: string } }).author?.id : undefined;
    if (askerId && askerId !== userId && !(await this.isAdmin(client, userId))) {
      this.log.info({ requestId, userId }, "image Stop refused: neither the asker nor an admin");
      return `Only <@${askerId}> (who asked for this picture) or a workspace admin can stop it.`;
    }
    await imagine.stop(requestId);
    this.log.info({ requestId, userId }, "image stop requested");
    return undefined;
  }

  private async isAdmin(client: WebClient, userId: string): Promise<boolean> {
    try {
      const u = (await client.users.info({ user: userId })).user;
      return u?.is_admin === true || u?.is_owner === true || u?.is_primary_owner === true;
    } catch {
      return false;
    }
  }

  private async postPlaceholder(
    client: WebClient,
    place: SlackCommandPlace,
    threadTs: string,
    requestId: string,
    ahead: number,
    posted: string[],
    tell: (text: string) => Promise<unknown>,
  ): Promise<ReplyTarget | null> {
    const text = imaginePlaceholderText(ahead);
    let ts: string | undefined;
    try {
      const res = await client.chat.postMessage({
        channel: place.channelId,
        thread_ts: threadTs,
        text,
        blocks: streamingBlocks(text, requestId),
        unfurl_links: false,
        unfurl_media: false,
      });
      ts = res.ts;
    } catch (err) {
      this.log.warn({ err: errorCode(err) ?? String(err) }, "could not post the /imagine placeholder");
    }
    if (!ts) {
      for (const p of posted) await client.chat.delete({ channel: place.channelId, ts: p }).catch(() => undefined);
      await tell(cannotPostText(undefined));
      return null;
    }
    const ttl = this.deps.config.MEMORY_TTL_SECONDS;
    await this.deps.redis
      .multi()
      .set(this.keys.messageRequest(place.teamId, place.channelId, ts), requestId, "EX", MESSAGE_REQUEST_TTL_SECONDS)
      .set(this.keys.botThread(place.teamId, place.channelId, threadTs), "1", "EX", ttl)
      .set(this.keys.lastThread(place.teamId, place.channelId, place.userId), threadTs, "EX", ttl)
      .exec()
      .catch((err: unknown) => this.log.warn({ err: String(err) }, "could not store the /imagine thread's bookkeeping"));
    // No userId: an image reply never becomes a native text stream.
    return { platform: "slack", channelId: place.channelId, threadId: threadTs, messageId: ts, workspaceId: place.teamId, requestId };
  }
}
