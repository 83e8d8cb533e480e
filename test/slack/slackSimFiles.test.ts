import { App, LogLevel } from "@slack/bolt";
import { afterEach, describe, expect, it } from "vitest";
import { platformError, simWebClient } from "../sim/slack/clients.ts";
import { SlackSimulator, waitFor } from "../sim/slack/SlackSimulator.ts";

const BOT_TOKEN = "xoxb-T1-simtoken";

let sim: SlackSimulator | undefined;
const apps: App[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop().catch(() => undefined);
  await sim?.stop();
  sim = undefined;
});

async function startSim(options: Parameters<typeof SlackSimulator.start>[0] = {}): Promise<SlackSimulator> {
  sim = await SlackSimulator.start(options);
  return sim;
}

function bearer(token = BOT_TOKEN): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${token}` } };
}

describe("Slack simulator: the bot uploads files (external upload flow)", () => {
  it("filesUploadV2 runs getUploadURLExternal → POST → completeUploadExternal and shares into the thread", async () => {
    const s = await startSim();
    const client = simWebClient(s);
    const question = s.userMentions("T1", { channel: "C1", user: "U1", text: "/imagine a cat" });
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    const uploaded = await client.filesUploadV2({
      channel_id: "C1",
      thread_ts: question.ts,
      file: png,
      filename: "cat.png",
      title: "a cat (step 20/20)",
      initial_comment: "seed 42",
    });
    expect(uploaded.ok).toBe(true);
    expect(s.calls("files.getUploadURLExternal")[0]?.params).toMatchObject({ filename: "cat.png", length: String(png.length) });
    const complete = s.calls("files.completeUploadExternal")[0]?.params;
    const fileId = s.calls("files.getUploadURLExternal")[0]?.response as { file_id: string };
    expect(complete).toMatchObject({
      channel_id: "C1",
      thread_ts: question.ts,
      initial_comment: "seed 42",
      files: [{ id: fileId.file_id, title: "a cat (step 20/20)" }],
    });
    expect(s.fileBytes(fileId.file_id)?.equals(png)).toBe(true);
    const share = s.thread("T1", "C1", question.ts).at(-1);
    expect(share).toMatchObject({ text: "seed 42", subtype: "file_share", bot_id: "B0BOT", reply: true });
    expect(share?.files).toEqual([
      expect.objectContaining({
        id: fileId.file_id,
        name: "cat.png",
        title: "a cat (step 20/20)",
        mimetype: "image/png",
        filetype: "png",
        size: png.length,
      }),
    ]);
    const info = await client.files.info({ file: fileId.file_id });
    expect(info.file).toMatchObject({ id: fileId.file_id, shares: { public: { C1: [{ ts: share?.ts, thread_ts: question.ts }] } } });

    // A later preview replaces the file on a message the bot edits (chat.update file_ids).
    const placeholder = await client.chat.postMessage({ channel: "C1", thread_ts: question.ts, text: "step 5/20" });
    const step = await client.files.getUploadURLExternal({ filename: "step5.png", length: 3 });
    expect((await fetch(step.upload_url ?? "", { method: "POST", body: Buffer.from([7, 8, 9]) })).status).toBe(200);
    await client.files.completeUploadExternal({ files: [{ id: step.file_id ?? "" }] });
    await client.chat.update({ channel: "C1", ts: placeholder.ts ?? "", text: "step 5/20", file_ids: [step.file_id ?? ""] });
    expect(s.message("T1", "C1", placeholder.ts ?? "")?.files?.map((f) => f.name)).toEqual(["step5.png"]);
    await client.files.delete({ file: step.file_id ?? "" });
    expect(s.file(step.file_id ?? "")?.deleted).toBe(true);
  });

  it("answers the documented errors: zero length, over the size limit, unknown/unfinished/repeated completes, failed POSTs", async () => {
    const s = await startSim({ teams: [{ id: "T1", maxUploadBytes: 1000 }] });
    const client = simWebClient(s);
    expect(await platformError(client.files.getUploadURLExternal({ filename: "a.txt", length: 0 }))).toMatchObject({
      error: "missing_argument",
    });
    expect(await platformError(client.files.getUploadURLExternal({ filename: "a.png", length: 1001 }))).toMatchObject({
      error: "file_upload_size_restricted",
    });
    expect(await platformError(client.files.completeUploadExternal({ files: [{ id: "F404" }] }))).toMatchObject({
      error: "file_not_found",
    });
    const started = await client.files.getUploadURLExternal({ filename: "a.txt", length: 5 });
    expect(
      await platformError(client.files.completeUploadExternal({ files: [{ id: started.file_id ?? "" }], channel_id: "C1" })),
    ).toMatchObject({
      error: "file_not_found",
    });
    expect((await fetch(started.upload_url ?? "", { method: "POST", body: "hello" })).status).toBe(200);
    expect((await fetch(started.upload_url ?? "", { method: "POST", body: "again" })).status).toBe(404);
    s.addChannel("T1", { id: "C2", botIsMember: false });
    expect(
      await platformError(client.files.completeUploadExternal({ files: [{ id: started.file_id ?? "" }], channel_id: "C2" })),
    ).toMatchObject({
      error: "not_in_channel",
    });
    await client.files.completeUploadExternal({ files: [{ id: started.file_id ?? "" }], channel_id: "C1" });
    expect(
      await platformError(client.files.completeUploadExternal({ files: [{ id: started.file_id ?? "" }], channel_id: "C1" })),
    ).toMatchObject({
      error: "file_not_found",
    });
    expect(s.filesIn("T1", "C1").map((f) => [f.name, f.size])).toEqual([["a.txt", 5]]);

    s.failUploads(500);
    await expect(client.filesUploadV2({ channel_id: "C1", content: "x", filename: "b.txt" })).rejects.toThrow(/HTTP protocol error/);
    expect(s.calls("files.completeUploadExternal")).toHaveLength(5);
  });
});

describe("Slack simulator: files users attach, downloaded by the bot", () => {
  it("a user's file_share carries url_private, mimetype, filetype, size, name; only the bot token of that workspace downloads it", async () => {
    const s = await startSim({ teams: [{ id: "T1" }, { id: "T2" }] });
    const app = new App({
      token: BOT_TOKEN,
      appToken: "xapp-1-A0SIMAPP-x",
      socketMode: true,
      clientOptions: { slackApiUrl: s.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    apps.push(app);
    const seen: Array<Record<string, unknown>> = [];
    app.event("message", async ({ event }) => {
      seen.push(event as unknown as Record<string, unknown>);
    });
    await app.start();
    await s.waitForConnect();

    const sent = s.userMessage("T1", {
      channel: "D1",
      user: "U1",
      text: "",
      files: [{ name: "notes.md", content: "# Secret\nword: kiwi" }],
    });
    await waitFor(() => seen.length === 1);
    const file = ((seen[0]?.files ?? []) as Array<Record<string, unknown>>)[0] ?? {};
    expect(seen[0]).toMatchObject({ subtype: "file_share", channel_type: "im", user: "U1", upload: true, text: "" });
    expect(file).toMatchObject({ id: sent.fileIds?.[0], name: "notes.md", mimetype: "text/markdown", filetype: "markdown", size: 19 });
    const url = String(file.url_private);

    const ok = await fetch(url, bearer());
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("text/markdown");
    expect(await ok.text()).toBe("# Secret\nword: kiwi");
    // No token, or another workspace's token: Slack's sign-in page (HTML, 200 after the redirect).
    for (const attempt of [await fetch(url), await fetch(url, bearer("xoxb-T2-simtoken"))]) {
      expect(attempt.status).toBe(200);
      expect(attempt.headers.get("content-type")).toContain("text/html");
      expect(await attempt.text()).toContain("Sign in");
    }
    expect((await fetch(url, { ...bearer(), redirect: "manual" })).status).toBe(200);
    expect((await fetch(url, { redirect: "manual" })).status).toBe(302);
    s.setScopes("T1", ["chat:write"]);
    expect((await fetch(url, { ...bearer(), redirect: "manual" })).status).toBe(302);
    expect(s.fileDownloads().map((d) => [d.authorized, d.status])).toEqual([
      [true, 200],
      [false, 302],
      [false, 302],
      [true, 200],
      [false, 302],
      [false, 302],
    ]);
  });

  it("download faults: 404, slow, hang, reset, huge, wrong content type", async () => {
    const s = await startSim();
    const sent = s.userMentions("T1", {
      channel: "C1",
      user: "U1",
      text: "read these",
      files: [
        { name: "a.txt", content: "alpha", fault: { kind: "status", status: 404 } },
        { name: "b.txt", content: "bravo", fault: { kind: "slow", delayMs: 2000 } },
        { name: "c.txt", content: "charlie", fault: { kind: "hang", afterBytes: 3 } },
        { name: "d.txt", content: "delta-delta", fault: { kind: "reset", afterBytes: 4 } },
        { name: "e.log", content: "tiny", fault: { kind: "huge", bytes: 5_000_000 } },
        { name: "f.txt", content: "\u0000\u0001binary", fault: { kind: "contentType", contentType: "application/octet-stream" } },
        { name: "big.csv", size: 3_000_000 },
      ],
    });
    expect(sent.event.event?.files).toHaveLength(7);
    const url = (i: number): string => s.file(sent.fileIds?.[i] ?? "")?.url_private ?? "";
    expect((await fetch(url(0), bearer())).status).toBe(404);
    await expect(fetch(url(1), { ...bearer(), signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const hung = await fetch(url(2), bearer());
    expect(hung.headers.get("content-length")).toBe("7");
    await expect(
      (async () => {
        const reader = hung.body?.getReader();
        const timer = setTimeout(() => void reader?.cancel(new Error("gave up")), 300);
        let total = 0;
        for (;;) {
          const { done, value } = (await reader?.read()) ?? { done: true, value: undefined };
          if (done) break;
          total += value?.length ?? 0;
        }
        clearTimeout(timer);
        return total;
      })(),
    ).resolves.toBe(3);
    await expect((await fetch(url(3), bearer())).text()).rejects.toThrow();
    const huge = await fetch(url(4), bearer());
    expect(huge.headers.get("content-length")).toBe("5000000");
    let read = 0;
    const reader = huge.body?.getReader();
    while (read < 1_000_000) read += (await reader?.read())?.value?.length ?? 0;
    await reader?.cancel();
    expect(s.file(sent.fileIds?.[4] ?? "")?.size).toBe(4);
    const wrong = await fetch(url(5), bearer());
    expect(wrong.headers.get("content-type")).toBe("application/octet-stream");
    expect(s.file(sent.fileIds?.[5] ?? "")?.mimetype).toBe("text/plain");
    const big = await fetch(url(6), { ...bearer(), method: "HEAD" });
    expect(big.headers.get("content-length")).toBe("3000000");
    s.setFileFault(sent.fileIds?.[0] ?? "", undefined);
    expect(await (await fetch(url(0), bearer())).text()).toBe("alpha");
  });
});
