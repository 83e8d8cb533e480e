/**
 * What a Discord message points at, through the real discord.js client against the simulator:
 * the replied-to message (another person's, the bot's own earlier answer, one that is gone or
 * hidden) and attached files (text read, large ones cut, binaries and images noted, invalid UTF-8,
 * downloads that fail or hang) — in the request's context for the worker, with notes in the
 * placeholder where something cannot be read.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CONTEXT_TEXT } from "../../adapters/discord/discordRequestContext.ts";
import { SampleFiles } from "../sim/discord/DiscordSimulator.ts";
import { ALICE, BOB, CH, discordTestbed } from "./discordTestbed.ts";

const tb = discordTestbed();
const MAX_BYTES = 4096;

beforeAll(async () => {
  await tb.useAdapter({ ...tb.config, MAX_ATTACHMENT_BYTES: MAX_BYTES, MAX_ATTACHMENT_CHARS: 2000, ATTACHMENT_TIMEOUT_MS: 800 });
});

const firstVersion = (messageId: string) => tb.sim.history(messageId)[0]!.content;

describe("reply-to context", () => {
  it("a mention replying to someone's message brings that message's author and text", async () => {
    const secret = tb.say(CH.replyCtx, "the secret word is pineapple", BOB, false);
    const q = tb.sim.userSays({
      channelId: CH.replyCtx,
      author: ALICE,
      content: "what is the secret word in the message I replied to?",
      mentionsBot: true,
      messageReference: { messageId: secret.id },
    });
    const e = await tb.generated(`discord-${q.id}`);
    expect(e.request.context?.replyTo).toEqual({ author: "bob", text: "the secret word is pineapple", isBot: false });
    expect(e.request.text).toBe("what is the secret word in the message I replied to?");
  });

  it("a reply to the bot's own earlier answer brings it, marked as the bot's, notes left out", async () => {
    const q = tb.say(CH.replyCtx, "say something");
    const first = await tb.generated(`discord-${q.id}`);
    const answer = tb.sim.message(first.request.reply.messageId)!;
    const follow = tb.sim.userSays({
      channelId: CH.replyCtx,
      author: ALICE,
      content: "explain that",
      mentionsBot: true,
      messageReference: { messageId: answer.id },
    });
    const e = await tb.generated(`discord-${follow.id}`);
    expect(e.request.context?.replyTo?.isBot).toBe(true);
    expect(e.request.context?.replyTo?.text).not.toMatch(/^-# /m);
  });

  it("a replied-to message that is gone or hidden is left out, and the placeholder says so", async () => {
    const gone = tb.say(CH.replyCtx, "soon deleted", BOB, false);
    tb.sim.failNext({ method: "GET", path: new RegExp(`/messages/${gone.id}$`) }, { status: 404, code: 10008, message: "Unknown Message" });
    const q = tb.sim.userSays({
      channelId: CH.replyCtx,
      author: ALICE,
      content: "what did it say?",
      mentionsBot: true,
      messageReference: { messageId: gone.id },
    });
    const e = await tb.generated(`discord-${q.id}`);
    expect(e.request.context).toBeUndefined();
    expect(firstVersion(e.request.reply.messageId)).toContain(CONTEXT_TEXT.replyGone);

    const hidden = tb.say(CH.replyCtx, "hidden", BOB, false);
    tb.sim.failNext(
      { method: "GET", path: new RegExp(`/messages/${hidden.id}$`) },
      { status: 403, code: 50001, message: "Missing Access" },
    );
    const q2 = tb.sim.userSays({
      channelId: CH.replyCtx,
      author: ALICE,
      content: "and this?",
      mentionsBot: true,
      messageReference: { messageId: hidden.id },
    });
    const e2 = await tb.generated(`discord-${q2.id}`);
    expect(firstVersion(e2.request.reply.messageId)).toContain(CONTEXT_TEXT.replyGone);
  });
});

describe("attached files", () => {
  it("text files are read into the context; large ones are cut with a note; binaries and images are noted", async () => {
    const m = tb.sim.userSays({
      channelId: CH.files,
      author: ALICE,
      content: "look at these",
      mentionsBot: true,
      attachments: [
        { filename: "notes.md", data: "# Plan\n- ship it\n" },
        { filename: "big.log", generate: { size: MAX_BYTES * 4, fill: "line of log\n" } },
        { filename: "data.txt", data: SampleFiles.binary(512) },
        { filename: "photo.png", data: SampleFiles.binary(64) },
        { filename: "latin1.csv", data: SampleFiles.invalidUtf8() },
      ],
    });
    const e = await tb.generated(`discord-${m.id}`);
    const files = e.request.context?.attachments ?? [];
    expect(files.map((f) => f.name)).toEqual(["notes.md", "big.log", "data.txt", "photo.png", "latin1.csv"]);
    expect(files[0]).toMatchObject({ text: "# Plan\n- ship it\n" });
    expect(files[1]!.truncatedAt).toBeGreaterThan(0);
    expect(files[1]!.text!.length).toBeLessThanOrEqual(2000);
    expect(files[2]).toMatchObject({ note: expect.stringMatching(/binary/) });
    expect(files[2]!.text).toBeUndefined();
    expect(files[3]).toMatchObject({ note: expect.stringMatching(/image/) });
    expect(files[4]!.text ?? files[4]!.note).toBeDefined();
    const placeholder = firstVersion(e.request.reply.messageId);
    expect(placeholder).toContain(CONTEXT_TEXT.partly("big.log", MAX_BYTES));
    expect(placeholder).toContain(CONTEXT_TEXT.image("photo.png"));
    expect(placeholder).not.toContain("attachments are ignored");
    expect(e.request.text).toBe("look at these");
  });

  it("a download that fails or hangs is a note next to the file, not a failure", async () => {
    const m = tb.sim.userSays({
      channelId: CH.files,
      author: ALICE,
      content: "and these?",
      mentionsBot: true,
      attachments: [
        { filename: "gone.txt", data: "x", fault: { kind: "status", status: 404 } },
        { filename: "slow.txt", data: "y".repeat(100), fault: { kind: "hang" } },
      ],
    });
    const e = await tb.generated(`discord-${m.id}`);
    const [gone, slow] = e.request.context?.attachments ?? [];
    expect(gone).toMatchObject({ name: "gone.txt", note: expect.stringMatching(/HTTP 404/) });
    expect(slow).toMatchObject({ name: "slow.txt", note: expect.stringMatching(/no complete answer within/) });
  });

  it("a mention with only a text file is answered about the file", async () => {
    const m = tb.sim.userSays({
      channelId: CH.files,
      author: ALICE,
      content: "",
      mentionsBot: true,
      attachments: [{ filename: "q.txt", data: "2+2?" }],
    });
    const e = await tb.generated(`discord-${m.id}`);
    expect(e.request.context?.attachments?.[0]).toMatchObject({ name: "q.txt", text: "2+2?" });
    expect(e.request.text.length).toBeGreaterThan(0);
  });
});
