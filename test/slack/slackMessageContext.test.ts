/**
 * What a Slack message brings into its request's context, through the real Bolt app against the
 * simulator: a mention in a thread the bot did not start brings the thread's earlier messages
 * (conversations.replies, authors by users.info, the bot's own marked); files shared with it are
 * downloaded with the bot token and read (text), or noted (images, binaries, too large, failed or
 * hanging downloads, a text extension on binary content, no files:read).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILES_ONLY_TEXT } from "../../adapters/slack/slackRequestContext.ts";
import { type SlackBed, startSlackBed } from "./slackFeatureTestbed.ts";

let bed: SlackBed;

beforeAll(async () => {
  bed = await startSlackBed({
    teams: [{ id: "T1" }, { id: "T2", scopes: ["commands", "app_mentions:read", "chat:write", "users:read"] }],
    env: { MAX_ATTACHMENT_BYTES: "4096", MAX_ATTACHMENT_CHARS: "2000", ATTACHMENT_TIMEOUT_MS: "800", SLACK_THREAD_CONTEXT_MESSAGES: "3" },
  });
  bed.sim.addUser("T1", { id: "UANN", name: "ann" });
  bed.sim.addUser("T1", { id: "UBOB", name: "bob" });
  bed.sim.addUser("T1", { id: "UCAT", name: "cat" });
});
afterAll(async () => {
  await bed?.close();
});

describe("thread context", () => {
  it("a mention in someone else's thread brings its earlier messages, with authors, oldest first", async () => {
    const parent = bed.sim.userMessage("T1", { channel: "C1", user: "UANN", text: "Plan: ship on Friday" });
    bed.sim.userMessage("T1", { channel: "C1", user: "UBOB", text: "I think Monday is safer, <@UANN>", threadTs: parent.ts });
    const m = bed.sim.userMentions("T1", { channel: "C1", user: "UCAT", text: "which day is better?", threadTs: parent.ts });
    // A message after the mention is not part of what it saw.
    bed.sim.userMessage("T1", { channel: "C1", user: "UANN", text: "later remark", threadTs: parent.ts });
    const request = await bed.queued(`slack-T1-C1-${m.ts}`);
    expect(request.text).toBe("which day is better?");
    expect(request.context?.thread).toEqual([
      { author: "ann", text: "Plan: ship on Friday" },
      { author: "bob", text: "I think Monday is safer, @UANN" },
    ]);
    expect(request.conversationKey).toBe(`slack:T1:C1:${parent.ts}`);
    expect(bed.sim.calls("conversations.replies", "T1").at(-1)?.params).toMatchObject({ channel: "C1", ts: parent.ts });
  });

  it("keeps the newest SLACK_THREAD_CONTEXT_MESSAGES, and marks the bot's own messages", async () => {
    const parent = bed.sim.userMessage("T1", { channel: "C2", user: "UANN", text: "one" });
    for (const text of ["two", "three", "four"]) bed.sim.userMessage("T1", { channel: "C2", user: "UBOB", text, threadTs: parent.ts });
    await bed.sink.post({ platform: "slack", channelId: "C2", threadId: parent.ts, messageId: parent.ts, workspaceId: "T1" }, "an answer");
    const m = bed.sim.userMentions("T1", { channel: "C2", user: "UCAT", text: "summary?", threadTs: parent.ts });
    const request = await bed.queued(`slack-T1-C2-${m.ts}`);
    expect(request.context?.thread).toEqual([
      { author: "bob", text: "three" },
      { author: "bob", text: "four" },
      { author: "assistant", text: "an answer", isBot: true },
    ]);
  });

  it("the bot's own threads bring none (their conversation is in memory)", async () => {
    const first = bed.sim.userMentions("T1", { channel: "C3", user: "UANN", text: "start" });
    await bed.queued(`slack-T1-C3-${first.ts}`);
    const calls = bed.sim.calls("conversations.replies", "T1").length;
    const next = bed.sim.userMentions("T1", { channel: "C3", user: "UANN", text: "more", threadTs: first.ts });
    const request = await bed.queued(`slack-T1-C3-${next.ts}`);
    expect(request.context).toBeUndefined();
    expect(bed.sim.calls("conversations.replies", "T1").length).toBe(calls);
  });

  it("without the history scope the thread cannot be read: the question is still taken, without context", async () => {
    const parent = bed.sim.userMessage("T2", { channel: "C1", user: "UDAN", text: "secret plan" });
    const m = bed.sim.userMentions("T2", { channel: "C1", user: "UEVE", text: "thoughts?", threadTs: parent.ts });
    const request = await bed.queued(`slack-T2-C1-${m.ts}`);
    expect(request.context).toBeUndefined();
    expect(bed.sim.calls("conversations.replies", "T2").at(-1)?.response).toMatchObject({ ok: false, error: "missing_scope" });
  });
});

describe("files shared with a question", () => {
  it("reads text files with the bot token, notes images and binaries, cuts a large one and says how much was read", async () => {
    const m = bed.sim.userMentions("T1", {
      channel: "C4",
      user: "UANN",
      text: "what is the secret word?",
      files: [
        { name: "notes.md", content: "# Notes\nThe secret word is **platypus**." },
        { name: "photo.png", content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) },
        { name: "report.pdf", size: 20_000 },
        { name: "big.log", content: "line of log\n".repeat(1000) },
      ],
    });
    const request = await bed.queued(`slack-T1-C4-${m.ts}`);
    const [notes, photo, pdf, big] = request.context?.attachments ?? [];
    expect(notes).toMatchObject({ name: "notes.md", text: "# Notes\nThe secret word is **platypus**." });
    expect(photo).toMatchObject({ name: "photo.png", note: "images are not supported by this model" });
    expect(photo?.text).toBeUndefined();
    expect(pdf).toMatchObject({ name: "report.pdf", note: "not read: application/pdf is not a text file" });
    expect(big?.text?.length).toBe(2000);
    expect(big?.truncatedAt).toBe(2000);
    // Downloaded with the workspace's bot token; the image and the PDF were never downloaded.
    const downloads = bed.sim.fileDownloads().filter((d) => m.fileIds?.includes(d.fileId));
    expect(downloads.map((d) => d.fileId).sort()).toEqual([m.fileIds![0], m.fileIds![3]].sort());
    expect(downloads.every((d) => d.authorized)).toBe(true);
  });

  it("a failed, hanging or disguised download is a note, not a failure", async () => {
    const m = bed.sim.userMentions("T1", {
      channel: "C5",
      user: "UANN",
      text: "look",
      files: [
        { name: "gone.txt", content: "x", fault: { kind: "status", status: 404 } },
        { name: "slow.txt", content: "y".repeat(100), fault: { kind: "hang", afterBytes: 10 } },
        { name: "fake.txt", content: Buffer.from([0, 1, 2, 3, 0, 0, 7, 8]) },
        { name: "latin1.txt", content: Buffer.from("caf\xe9 cr\xe8me", "latin1") },
      ],
    });
    const request = await bed.queued(`slack-T1-C5-${m.ts}`);
    const [gone, slow, fake, latin] = request.context?.attachments ?? [];
    expect(gone?.note).toBe("could not be downloaded (HTTP 404)");
    expect(slow?.note).toMatch(/^could not be downloaded \(no complete answer within/);
    expect(fake?.note).toMatch(/^not read: the content is binary/);
    expect(latin?.text).toContain("caf");
    expect(latin?.note).toMatch(/not valid UTF-8/);
  });

  it("a message that is only a file asks about the file", async () => {
    const m = bed.sim.userMentions("T1", { channel: "C6", user: "UANN", text: "", files: [{ name: "a.csv", content: "a,b\n1,2\n" }] });
    const request = await bed.queued(`slack-T1-C6-${m.ts}`);
    expect(request.text).toBe(FILES_ONLY_TEXT);
    expect(request.context?.attachments?.[0]).toMatchObject({ name: "a.csv", text: "a,b\n1,2\n" });
  });

  it("without files:read Slack serves its sign-in page: the note says the bot may not read files", async () => {
    const m = bed.sim.userMentions("T2", { channel: "C2", user: "UDAN", text: "read this", files: [{ name: "x.txt", content: "hello" }] });
    const request = await bed.queued(`slack-T2-C2-${m.ts}`);
    expect(request.context?.attachments?.[0]?.note).toMatch(/web page instead of the file; is the bot allowed to read files\?/);
  });
});
