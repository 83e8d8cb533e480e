/** toMrkdwn (model Markdown → Slack mrkdwn) and escapeSlackText. */
import { describe, expect, it } from "vitest";
import { escapeSlackText, toMrkdwn } from "../../../src/text/toMrkdwn.ts";
import { int, pick, prng, randomText } from "./textTestKit.ts";

describe("toMrkdwn", () => {
  const cases: Array<[string, string]> = [
    ["**bold** and __also bold__", "*bold* and *also bold*"],
    ["*italic* and _italic_", "_italic_ and _italic_"],
    ["***both***", "*_both_*"],
    ["**bold with *italic* inside**", "*bold with _italic_ inside*"],
    ["~~gone~~", "~gone~"],
    ["[Slack](https://slack.com)", "<https://slack.com|Slack>"],
    ["[q](https://x.y/?a=1&b=2)", "<https://x.y/?a=1&amp;b=2|q>"],
    ["[**bold** label](https://x.y)", "<https://x.y|*bold* label>"],
    ["[wiki](https://en.wikipedia.org/wiki/Foo_(bar))", "<https://en.wikipedia.org/wiki/Foo_(bar)|wiki>"],
    ['[t](https://x.y "Title")', "<https://x.y|t>"],
    ["[mail](mailto:a@b.c)", "<mailto:a@b.c|mail>"],
    ["![alt text](https://x.y/i.png)", "<https://x.y/i.png|alt text>"],
    ["<https://x.y/a>", "<https://x.y/a>"],
    ["[rel](/docs/page)", "rel (/docs/page)"],
    ["[js](javascript:alert(1))", "js (javascript:alert(1))"],
    ["# Title", "*Title*"],
    ["### Sub **title** ###", "*Sub title*"],
    ["#hashtag", "#hashtag"],
    ["- one\n* two\n+ three", "• one\n• two\n• three"],
    ["- top\n  - nested\n    - deeper", "• top\n  • nested\n    • deeper"],
    ["- [ ] todo\n- [x] done", "• ☐ todo\n• ☑ done"],
    ["1. first\n2) second", "1. first\n2) second"],
    ["> quoted **text**", "> quoted *text*"],
    ["> - item in quote", "> • item in quote"],
    ["> > nested", "> &gt; nested"],
    ["---", "──────────"],
    ["* * *", "──────────"],
    ["a & b < c > d", "a &amp; b &lt; c &gt; d"],
    ["`a < b && **c**`", "`a &lt; b &amp;&amp; **c**`"],
    ["``code with ` tick``", "``code with ` tick``"],
    ["```ts\nconst a = x < y && **z**;\n```", "```\nconst a = x &lt; y &amp;&amp; **z**;\n```"],
    ["~~~\ncode\n~~~", "```\ncode\n```"],
    ["- list:\n  ```py\n  x = 1\n  ```", "• list:\n```\nx = 1\n```"],
    ["````md\n```js\nx\n```\n````", "```\n`\u200b`\u200b`js\nx\n`\u200b`\u200b`\n```"],
    ["snake_case_name and 2*3*4", "snake_case_name and 2*3*4"],
    ["see https://x.com/a_b_c_d. ok", "see https://x.com/a_b_c_d. ok"],
    ["https://x.com/?a=1&b=2", "https://x.com/?a=1&amp;b=2"],
    ["\\*not italic\\*", "*not italic*"],
    ["| a | b |\n|---|---|\n| **1** | 2 |", "| a | b |\n|---|---|\n| *1* | 2 |"],
    ["line\r\nnext", "line\nnext"],
    ["unclosed **bold", "unclosed **bold"],
    ["", ""],
  ];
  for (const [input, expected] of cases) {
    it(`converts ${JSON.stringify(input)}`, () => {
      expect(toMrkdwn(input)).toBe(expected);
    });
  }

  it("converts a typical model answer", () => {
    const md = [
      "## Summary",
      "",
      "Use **Redis** for the _queue_ & keep `state < 1MB`.",
      "",
      "1. Install it",
      "2. Run:",
      "",
      "```bash",
      "redis-server --port 6379 > /dev/null &",
      "```",
      "",
      "See [the docs](https://redis.io/docs?a=1&b=2).",
    ].join("\n");
    expect(toMrkdwn(md)).toBe(
      [
        "*Summary*",
        "",
        "Use *Redis* for the _queue_ &amp; keep `state &lt; 1MB`.",
        "",
        "1. Install it",
        "2. Run:",
        "",
        "```",
        "redis-server --port 6379 &gt; /dev/null &amp;",
        "```",
        "",
        "See <https://redis.io/docs?a=1&amp;b=2|the docs>.",
      ].join("\n"),
    );
  });

  it("escapes every &, < and > it does not generate itself (random input)", () => {
    const rng = prng(7);
    const pieces = [
      "&",
      "<",
      ">",
      "<b>",
      "&amp;",
      "[x](https://a.b/?c=<d>&e)",
      "`<code>`",
      "\n```\n<x>&\n```\n",
      "**<b>**",
      "<https://ok.x>",
      "word",
      " ",
      "\n",
      "> q <",
      "# h <",
    ];
    for (let n = 0; n < 300; n++) {
      let md = "";
      for (let k = int(rng, 1, 30); k > 0; k--) md += pick(rng, pieces);
      const out = toMrkdwn(md);
      // Raw "<" only opens a generated link; raw ">" only closes one or marks a quote.
      const withoutLinks = out.replace(/<(?:https?:\/\/|mailto:)[^\s<>|]*(?:\|[^<>\n]*)?>/g, "");
      expect(withoutLinks, md).not.toMatch(/</);
      expect(withoutLinks.replace(/^> ?/gm, ""), md).not.toMatch(/>/);
      // "&" only as the start of one of the three entities.
      expect(out.replace(/&(?:amp|lt|gt);/g, ""), md).not.toMatch(/&/);
    }
  });

  it("is stable line by line: complete lines convert the same whatever follows", () => {
    const rng = prng(8);
    for (let n = 0; n < 100; n++) {
      const md = randomText(rng, int(rng, 50, 800));
      const cut = md.lastIndexOf("\n", int(rng, 0, md.length));
      if (cut < 0) continue;
      const head = toMrkdwn(md.slice(0, cut + 1));
      expect(toMrkdwn(md).startsWith(head)).toBe(true);
    }
  });

  it("escapeSlackText escapes exactly the three control characters", () => {
    expect(escapeSlackText("Hello & <world> 🌊 \"'*")).toBe("Hello &amp; &lt;world&gt; 🌊 \"'*");
  });
});
