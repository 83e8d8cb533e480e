/** Slack mentions: formatForSlack and escapeSlackMentions never let model output ping anyone. */
import { describe, expect, it } from "vitest";
import { escapeSlackMarkdown, escapeSlackMentions, formatForSlack, stableMarkdownLength } from "../../../src/text/escapeMentions.ts";
import { int, pick, prng } from "./textTestKit.ts";

describe("Slack mentions", () => {
  const specials = [
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<!here|here>",
    "<!subteam^S0123ABC|@oncall>",
    "<@U0123ABCD>",
    "<@W0123ABCD|bob>",
    "<#C0123ABCD|general>",
    "<!date^1392734382^{date}|Feb 18>",
  ];

  it("formatForSlack leaves no special sequence, wherever the model put it", () => {
    for (const s of specials) {
      for (const md of [
        s,
        `hi ${s}!`,
        `**${s}**`,
        `\`${s}\``,
        `\`\`\`\n${s}\n\`\`\``,
        `[${s}](https://x.y)`,
        `- ${s}`,
        `# ${s}`,
        `> ${s}`,
        `[x](${s})`,
        `[x](https://a.b/${s})`,
      ]) {
        const out = formatForSlack(md);
        expect(out, md).not.toMatch(/<[!@#]/);
        expect(out, md).toContain(s.slice(1, 5)); // the text is still there, escaped
      }
    }
  });

  it("escapeSlackMentions escapes raw sequences in mrkdwn and keeps safe links", () => {
    expect(escapeSlackMentions("hey <!here> and <@U123> in <#C1>")).toBe("hey &lt;!here> and &lt;@U123> in &lt;#C1>");
    expect(escapeSlackMentions("<https://a.b/c|label> <mailto:x@y.z>")).toBe("<https://a.b/c|label> <mailto:x@y.z>");
    expect(escapeSlackMentions("<https://a.b|<!here>>")).not.toMatch(/<!/);
    expect(escapeSlackMentions("<javascript:alert(1)|x>")).toBe("&lt;javascript:alert(1)|x>");
  });

  it("neutralizes @here, @channel, @everyone with a word joiner, not emails or URLs", () => {
    expect(formatForSlack("@here @Channel (@everyone)")).toBe("@\u2060here @\u2060Channel (@\u2060everyone)");
    expect(formatForSlack("mail ops@channel.io or https://x.y/@here")).toBe("mail ops@channel.io or https://x.y/@here");
    expect(formatForSlack("@heresy @channels")).toBe("@heresy @channels");
    expect(formatForSlack("[@here](https://x.y/@here)")).toBe("<https://x.y/@here|@\u2060here>");
    expect(formatForSlack("@here", { neutralizeAtWords: false })).toBe("@here");
  });

  it("random mixes of mention syntax never produce a raw special sequence", () => {
    const rng = prng(9);
    const pieces = [
      ...specials,
      "<",
      ">",
      "!",
      "@",
      "#",
      "|",
      "[",
      "](",
      ")",
      "https://x.y",
      "`",
      "```\n",
      "\n",
      " ",
      "&lt;",
      "<!",
      "<@",
      "*",
      "_",
      "@here",
    ];
    for (let n = 0; n < 500; n++) {
      let md = "";
      for (let k = int(rng, 1, 25); k > 0; k--) md += pick(rng, pieces);
      const out = formatForSlack(md);
      expect(out, md).not.toMatch(/<[!@#]/);
      for (const m of out.matchAll(/</g)) expect(out.slice(m.index), md).toMatch(/^<(?:https?:\/\/|mailto:)/);
      expect(out, md).not.toMatch(/(?<![\p{L}\p{N}_/.@:%+-])@(?:here|channel|everyone)(?![\p{L}\p{N}_-])/iu);
    }
  });

  it("escapeSlackMarkdown (streamed Markdown): no raw mention sequence, autolinks kept, @here neutralized", () => {
    expect(escapeSlackMarkdown("hey <!here> and <@U123|x> in <#C1> <!subteam^S1>")).toBe(
      "hey &lt;!here> and &lt;@U123|x> in &lt;#C1> &lt;!subteam^S1>",
    );
    expect(escapeSlackMarkdown("see <https://a.b/c?d=1> or <mailto:x@y.z> and [docs](https://e.f)")).toBe(
      "see <https://a.b/c?d=1> or <mailto:x@y.z> and [docs](https://e.f)",
    );
    expect(escapeSlackMarkdown("**Bold** a < b & c > d, @here and @channel!")).toBe(
      "**Bold** a &lt; b & c > d, @\u2060here and @\u2060channel!",
    );
    expect(escapeSlackMarkdown("<https://a.b|<!here>>")).not.toMatch(/<!/);
    expect(escapeSlackMarkdown("@here", { neutralizeAtWords: false })).toBe("@here");
  });

  it("escapeSlackMarkdown sent piece by piece, each piece cut after whitespace, adds up to the escape of the whole", () => {
    const rng = prng(7);
    const pieces = [
      "<!here>",
      "<@U1>",
      "@here",
      "@channel",
      "<https://x.y/z>",
      "<mailto:a@b.c>",
      "a<b",
      " ",
      "\n",
      "word",
      "**b**",
      "&lt;",
    ];
    for (let n = 0; n < 300; n++) {
      let md = "";
      for (let k = 1 + int(rng, 0, 29); k > 0; k--) md += pick(rng, pieces);
      const whole = escapeSlackMarkdown(md);
      expect(whole, md).not.toMatch(/<[!@#]/);
      let sentRaw = "";
      let shown = "";
      for (let cut = 1; cut <= md.length; cut += int(rng, 1, 5)) {
        const stable = md.slice(0, stableMarkdownLength(md.slice(0, cut)));
        shown += escapeSlackMarkdown(stable.slice(sentRaw.length));
        sentRaw = stable;
        expect(whole.startsWith(shown), md).toBe(true);
      }
      shown += escapeSlackMarkdown(md.slice(sentRaw.length));
      expect(shown, md).toBe(whole);
    }
  });
});
