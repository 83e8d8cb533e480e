/**
 * The user turn with its context: labelled parts in a fixed order, fitted to a budget (oldest
 * thread messages out first, then the end of files, then of the replied-to message), a note of
 * what was left out, and a bounded mention of it all for memory.
 */
import { describe, expect, it } from "vitest";
import type { RequestContext } from "../../../src/context/RequestContext.ts";
import { fitText, formatBytes, renderUserTurn } from "../../../src/context/renderUserTurn.ts";

const question = "What does the file say?";
const notes = "# Notes\nThe secret word is *marmalade*.\n";
const context: RequestContext = {
  replyTo: { author: "Alice", text: "Look at this\nsecond line", isBot: false },
  thread: [
    { author: "Bob", text: "first" },
    { author: "qwenbot", text: "an answer", isBot: true },
    { author: "Alice", text: "third" },
  ],
  attachments: [
    { name: "notes.md", mimeType: "text/markdown", size: Buffer.byteLength(notes), text: notes },
    { name: "photo.png", mimeType: "image/png", size: 348_160, note: "images are not supported by this model" },
  ],
};
/** The context's share of a prompt in characters: everything before the message part. */
const contextChars = (prompt: string) => prompt.length - `[Message]\n${question}`.length - 2;

describe("renderUserTurn", () => {
  it("without context the turn is the message itself, for the prompt and for memory", () => {
    expect(renderUserTurn(question, undefined, { budget: 100 })).toEqual({ prompt: question, memory: question });
    expect(renderUserTurn(question, { thread: [], attachments: [] }, { budget: 100 })).toEqual({ prompt: question, memory: question });
  });

  it("labels each part, in order, before the message", () => {
    const r = renderUserTurn(question, context, { budget: 10_000 });
    expect(r.prompt).toBe(
      [
        "[The message this one replies to, from Alice]\n> Look at this\n> second line",
        "[Earlier messages in this thread]\nBob: first\nqwenbot (you): an answer\nAlice: third",
        `[File notes.md (${notes.length} bytes)]\n\`\`\`\n${notes}\n\`\`\``,
        "[File photo.png (340 KB, image/png): images are not supported by this model]",
        `[Message]\n${question}`,
      ].join("\n\n"),
    );
    expect(r.omitted).toBeUndefined();
    expect(r.memory).toBe(
      `[context: replying to Alice's message "Look at this second line"; 3 earlier thread messages shown; file notes.md (read); file photo.png (not read)]\n${question}`,
    );
    expect(r.memory).not.toContain("marmalade");
  });

  it("a quoted answer of the bot's is labelled as its own; a file's fence cannot be closed by its content", () => {
    const tricky = "before\n````\nafter ``` done";
    const r = renderUserTurn(
      "q",
      {
        replyTo: { author: "qwenbot", text: "old answer", isBot: true },
        attachments: [{ name: "a.md", mimeType: "text/markdown", size: 30, text: tricky }],
      },
      { budget: 1000 },
    );
    expect(r.prompt).toContain("[The message this one replies to: your earlier answer]\n> old answer");
    expect(r.prompt).toContain(`\`\`\`\`\`\n${tricky}\n\`\`\`\`\``);
    expect(r.memory).toContain('replying to your earlier answer "old answer"');
  });

  it("drops the oldest thread messages first and says how many", () => {
    const thread = Array.from({ length: 20 }, (_, i) => ({ author: `u${i}`, text: `message number ${i}` }));
    const full = renderUserTurn(question, { thread }, { budget: 10_000 });
    const budget = contextChars(full.prompt) - 100;
    const r = renderUserTurn(question, { thread }, { budget });
    expect(contextChars(r.prompt)).toBeLessThanOrEqual(budget);
    const kept = [...r.prompt.matchAll(/^u(\d+): /gm)].map((m) => Number(m[1]));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(20);
    // The newest ones, contiguous, oldest first.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 20 - kept.length + i));
    const dropped = 20 - kept.length;
    expect(r.prompt).toContain(`[Earlier messages in this thread (${dropped} older ones left out)]`);
    expect(r.omitted).toBe(`left out to fit the model's context: ${dropped} older thread messages`);
  });

  it("cuts a file that does not fit and says how much of it was read", () => {
    const text = "line of the log file\n".repeat(500);
    const file = { name: "app.log", mimeType: "text/plain", size: Buffer.byteLength(text), text };
    const r = renderUserTurn(question, { attachments: [file] }, { budget: 2000 });
    expect(contextChars(r.prompt)).toBeLessThanOrEqual(2000);
    const m = /\[File app\.log \(10 KB, first (\d+(?:\.\d)?) (KB|bytes) read\)\]\n```\n([\s\S]*)\n```/.exec(r.prompt);
    expect(m).not.toBeNull();
    const kept = m![3]!;
    expect(text.startsWith(kept)).toBe(true);
    expect(formatBytes(Buffer.byteLength(kept))).toBe(`${m![1]} ${m![2]}`);
    expect(r.omitted).toBe("left out to fit the model's context: the end of app.log");
  });

  it("a file already cut by the download keeps its 'first … read' label", () => {
    const file = { name: "big.csv", mimeType: "text/csv", size: 5_000_000, text: "a,b\n1,2", truncatedAt: 8192 };
    expect(renderUserTurn("q", { attachments: [file] }, { budget: 1000 }).prompt).toContain("[File big.csv (4.8 MB, first 8 KB read)]");
  });

  it("with no room at all, only the message is left and the note lists everything", () => {
    const r = renderUserTurn(question, context, { budget: 0 });
    expect(r.prompt).toBe(`[Message]\n${question}`);
    expect(r.omitted).toBe("left out to fit the model's context: the replied-to message, notes.md, photo.png, 3 older thread messages");
  });

  it("keeps within a budget in another unit (tokens), measured by the caller's function", () => {
    const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
    const long = { author: "Carol", text: "word ".repeat(300), isBot: false };
    for (const budget of [5, 20, 80, 200, 400]) {
      const r = renderUserTurn(question, { replyTo: long, thread: context.thread }, { budget, measure: words });
      const contextPart = r.prompt.slice(0, r.prompt.lastIndexOf("[Message]"));
      expect(words(contextPart), String(budget)).toBeLessThanOrEqual(budget);
      if (budget >= 20) {
        expect(r.prompt).toContain("[The message this one replies to, from Carol]");
        if (budget < 300) expect(r.omitted).toContain("the end of the replied-to message");
        else expect(r.prompt).toContain(`> ${long.text}`);
      } else expect(r.omitted).toContain("the replied-to message, ");
    }
  });

  it("memory's mention stays short whatever the context", () => {
    const r = renderUserTurn(
      question,
      { replyTo: { author: "A", text: "x".repeat(5000), isBot: false }, thread: Array(50).fill({ author: "B", text: "y".repeat(1000) }) },
      { budget: 100_000 },
    );
    expect(r.memory.length).toBeLessThan(250);
    expect(r.memory).toContain("50 earlier thread messages shown");
  });
});

describe("helpers", () => {
  it("formatBytes", () => {
    expect([0, 1, 1023, 1024, 1229, 10 * 1024, 348_160, 5_000_000].map(formatBytes)).toEqual([
      "0 bytes",
      "1 byte",
      "1023 bytes",
      "1 KB",
      "1.2 KB",
      "10 KB",
      "340 KB",
      "4.8 MB",
    ]);
  });

  it("fitText finds the longest start that fits and never splits a surrogate pair", () => {
    expect(fitText("abcdefghij", (t) => t.length <= 4)).toBe("abcd");
    expect(fitText("abc", () => false)).toBe("");
    const emoji = "😀😀😀";
    const kept = fitText(emoji, (t) => t.length <= 3);
    expect(kept).toBe("😀");
  });
});
