/**
 * Reading attached files against a local HTTP server: text read whole or capped, binary content
 * behind a text extension refused, invalid UTF-8 replaced with a note, UTF-16 decoded, 404 / hang /
 * stall / redirect loop / sign-in page as notes (never failures), slow but complete downloads read,
 * redirects followed (the auth header not carried to another origin), images and binaries never
 * downloaded.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeText } from "../../../src/context/decodeText.ts";
import { fileKind } from "../../../src/context/fileKinds.ts";
import { MAX_ATTACHMENTS, type ReadAttachmentOptions, readAttachment, readAttachments } from "../../../src/context/readAttachment.ts";

const requests: Array<{ path: string; authorization?: string }> = [];
let hugeBytesSent = 0;
let base = "";
let otherOrigin = "";
const sockets = new Set<import("node:net").Socket>();

/** Deterministic bytes, NULs included. */
const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
/** Bytes ≥ 0x80 without NULs: mostly invalid UTF-8. */
const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => 0x80 + ((i * 31) % 0x7f)));

function route(req: http.IncomingMessage, res: http.ServerResponse) {
  const url = req.url ?? "/";
  requests.push({ path: url, authorization: req.headers.authorization });
  const text = (body: string | Buffer, type = "text/plain; charset=utf-8") => {
    res.writeHead(200, { "content-type": type });
    res.end(body);
  };
  switch (url) {
    case "/notes.md":
      return text("# Notes\nThe secret word is marmalade.\n", "text/markdown");
    case "/huge.log": {
      res.writeHead(200, { "content-type": "text/plain" });
      const line = Buffer.from("a line of a very long log file\n".repeat(2000));
      const pump = () => {
        while (hugeBytesSent < 200 * 1024 * 1024) {
          hugeBytesSent += line.length;
          if (!res.write(line)) return void res.once("drain", pump);
        }
        res.end();
      };
      res.on("close", () => res.removeAllListeners("drain"));
      return pump();
    }
    case "/binary.txt":
      return text(binary, "text/plain");
    case "/garbage.txt":
      return text(garbage, "text/plain");
    case "/latin1.txt":
      return text(Buffer.from("café, naïve, über\n", "latin1"), "text/plain");
    case "/utf16.txt":
      return text(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("hello UTF-16 ✓", "utf16le")]), "text/plain");
    case "/noext":
      return text("plain words with no extension", "application/octet-stream");
    case "/hang":
      return; // never answers
    case "/stall":
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("the beginning and then nothing");
      return;
    case "/slow": {
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const timer = setInterval(() => {
        res.write(`chunk ${n}\n`);
        if (++n === 5) {
          clearInterval(timer);
          res.end();
        }
      }, 40);
      return;
    }
    case "/redirect":
      res.writeHead(302, { location: "/notes.md" });
      return void res.end();
    case "/loop":
      res.writeHead(302, { location: "/loop" });
      return void res.end();
    case "/private":
      if (req.headers.authorization !== "Bearer xoxb-test") {
        res.writeHead(403);
        return void res.end();
      }
      return text("private,data\n1,2\n", "text/csv");
    case "/to-other":
      res.writeHead(302, { location: `${otherOrigin}/echo-auth` });
      return void res.end();
    case "/echo-auth":
      return text(`authorization: ${req.headers.authorization ?? "none"}`);
    case "/login":
      return text("<!DOCTYPE html><html><body>Sign in to Slack</body></html>", "text/html; charset=utf-8");
    case "/split-utf8":
      return text(`${"é".repeat(60)}`);
    default:
      res.writeHead(404);
      res.end("not found");
  }
}

const server = http.createServer(route);
server.on("connection", (s) => {
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  otherOrigin = `http://localhost:${port}`; // same server, another origin
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const opts: ReadAttachmentOptions = { maxBytes: 64 * 1024, maxChars: 2000, timeoutMs: 2000 };
const file = (path: string, name: string, mimeType?: string, size?: number) => ({ url: `${base}${path}`, name, mimeType, size });
const seen = (path: string) => requests.filter((r) => r.path === path).length;

describe("text files", () => {
  it("reads a small text file whole", async () => {
    const a = await readAttachment(file("/notes.md", "notes.md", "text/markdown", 38), opts);
    expect(a).toEqual({ name: "notes.md", mimeType: "text/markdown", size: 38, text: "# Notes\nThe secret word is marmalade.\n" });
  });

  it("reads the start of a huge file, says how much, and stops downloading", async () => {
    const a = await readAttachment(file("/huge.log", "huge.log", "text/plain", 200 * 1024 * 1024), opts);
    expect(a.text).toHaveLength(opts.maxChars);
    expect(a.truncatedAt).toBe(opts.maxChars);
    expect(a.note).toBeUndefined();
    expect(hugeBytesSent).toBeLessThan(50 * 1024 * 1024);
    // The byte cap applies too when it is the smaller one.
    const small = await readAttachment(file("/huge.log", "huge.log"), { ...opts, maxBytes: 1024, maxChars: 100_000 });
    expect(small.text).toHaveLength(1024);
    expect(small.truncatedAt).toBe(1024);
  });

  it("never ends a cut text in half a character", async () => {
    const a = await readAttachment(file("/split-utf8", "e.txt"), { ...opts, maxBytes: 1024, maxChars: 25 });
    expect(a.text).toBe("é".repeat(25));
    const b = await readAttachment(file("/split-utf8", "e.txt"), { ...opts, maxBytes: 1025, maxChars: 100 });
    expect(b.text).not.toContain("\uFFFD");
  });

  it("follows redirects; sends the auth header to the file's origin only", async () => {
    expect((await readAttachment(file("/redirect", "notes.md"), opts)).text).toContain("marmalade");
    const withAuth = { ...file("/private", "data.csv", "text/csv"), headers: { authorization: "Bearer xoxb-test" } };
    expect((await readAttachment(withAuth, opts)).text).toBe("private,data\n1,2\n");
    const moved = await readAttachment({ ...file("/to-other", "who.txt"), headers: { authorization: "Bearer xoxb-test" } }, opts);
    expect(moved.text).toBe("authorization: none");
  });

  it("reads a slow download that completes within the timeout", async () => {
    const a = await readAttachment(file("/slow", "slow.txt"), opts);
    expect(a.text).toBe("chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
  });

  it("sniffs a file of unknown type and reads it when it is text; decodes UTF-16 with a BOM", async () => {
    expect((await readAttachment(file("/noext", "README-ish", "application/octet-stream"), opts)).text).toBe(
      "plain words with no extension",
    );
    expect((await readAttachment(file("/utf16.txt", "w.txt"), opts)).text).toBe("hello UTF-16 ✓");
  });
});

describe("bad files become notes", () => {
  it("binary content with a text extension is refused", async () => {
    const a = await readAttachment(file("/binary.txt", "secret.txt", "text/plain", 4096), opts);
    expect(a.text).toBeUndefined();
    expect(a.note).toBe("not read: the content is binary, not text (it contains NUL bytes)");
    const g = await readAttachment(file("/garbage.txt", "g.txt"), opts);
    expect(g.note).toBe("not read: the content is binary, not text (it is not valid UTF-8 text)");
  });

  it("invalid UTF-8 in a text file is replaced and noted", async () => {
    const a = await readAttachment(file("/latin1.txt", "latin1.txt"), opts);
    expect(a.text).toBe("caf\uFFFD, na\uFFFDve, \uFFFDber\n");
    expect(a.note).toBe("not valid UTF-8 in 3 places (shown as �)");
  });

  it("a 404, a hang, a stall, a redirect loop, a sign-in page and a refused connection are notes", async () => {
    const quick = { ...opts, timeoutMs: 300 };
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const results = await Promise.all([
      readAttachment(file("/missing", "gone.txt"), quick),
      readAttachment(file("/hang", "hang.txt"), quick),
      readAttachment(file("/stall", "stall.txt"), quick),
      readAttachment(file("/loop", "loop.txt"), quick),
      readAttachment(file("/login", "data.csv", "text/csv"), quick),
      readAttachment(file("/private", "data.csv", "text/csv"), quick),
      readAttachment({ url: `http://127.0.0.1:${closedPort}/x`, name: "refused.txt" }, quick),
      readAttachment({ url: "http://127.0.0.1:1/x", name: "bad-port.txt" }, quick),
    ]);
    expect(results.map((r) => r.note)).toEqual([
      "could not be downloaded (HTTP 404)",
      "could not be downloaded (no complete answer within 0.3 s)",
      "could not be downloaded (no complete answer within 0.3 s)",
      "could not be downloaded (too many redirects)",
      "could not be downloaded (the server sent a web page instead of the file; is the bot allowed to read files?)",
      "could not be downloaded (HTTP 403)",
      "could not be downloaded (network error ECONNREFUSED)",
      "could not be downloaded (network error: bad port)",
    ]);
    for (const r of results) expect(r.text).toBeUndefined();
  });

  it("images and binaries are never downloaded", async () => {
    const img = await readAttachment(file("/photo.png", "photo.png", "image/png", 1000), opts);
    expect(img.note).toBe("images are not supported by this model");
    const withImages = await readAttachment(file("/photo.png", "photo.png", "image/png"), { ...opts, imagesSupported: true });
    expect(withImages.note).toBe("an image (not read as text)");
    const pdf = await readAttachment(file("/doc.pdf", "doc.pdf", "application/pdf"), opts);
    expect(pdf.note).toBe("not read: application/pdf is not a text file");
    const zip = await readAttachment(file("/a.zip", "a.zip"), opts);
    expect(zip.note).toBe("not read: a .zip file is not a text file");
    expect(seen("/photo.png") + seen("/doc.pdf") + seen("/a.zip")).toBe(0);
  });

  it(`reads at most ${MAX_ATTACHMENTS} files of a message`, async () => {
    const files = Array.from({ length: MAX_ATTACHMENTS + 2 }, (_, i) => file("/notes.md", `n${i}.md`));
    const out = await readAttachments(files, opts);
    expect(out).toHaveLength(MAX_ATTACHMENTS + 2);
    expect(out.filter((a) => a.text !== undefined)).toHaveLength(MAX_ATTACHMENTS);
    expect(out.at(-1)!.note).toBe(`not read: at most ${MAX_ATTACHMENTS} files of a message are read`);
  });
});

describe("kinds and decoding", () => {
  it("classifies by extension and MIME type, text winning", () => {
    expect(fileKind("main.rs", undefined)).toBe("text");
    expect(fileKind("Dockerfile", undefined)).toBe("text");
    expect(fileKind("data", "application/json")).toBe("text");
    expect(fileKind("x.txt", "image/png")).toBe("text");
    expect(fileKind("pic.JPG", undefined)).toBe("image");
    expect(fileKind("report", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")).toBe("binary");
    expect(fileKind("blob", "application/octet-stream")).toBe("unknown");
  });

  it("decodes UTF-8 with a BOM, holds back a cut character, and calls control-character soup binary", () => {
    expect(decodeText(Buffer.from("\uFEFFhi", "utf8"), true)).toEqual({ binary: false, text: "hi" });
    const cut = Buffer.from("abcdef€", "utf8").subarray(0, 8);
    expect(decodeText(cut, false)).toEqual({ binary: false, text: "abcdef" });
    expect(decodeText(cut, true)).toMatchObject({ binary: false, note: "not valid UTF-8 in 1 place (shown as �)" });
    expect(decodeText(Buffer.from("\x01\x02\x03\x04abc"), true)).toEqual({ binary: true, reason: "it is mostly control characters" });
  });
});
