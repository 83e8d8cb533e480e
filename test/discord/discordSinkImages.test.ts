/**
 * DiscordSink.showImage against the Discord simulator, without a worker: a preview replaces the
 * one before (the message holds one file), previews sooner than the sink's interval are skipped
 * while the final one always goes (Stop gone, Regenerate on), and an upload Discord refuses — too
 * large (413) or no Attach Files permission (403) — is a 4xx PlatformError (the worker then says
 * so in text), not a vanished message.
 */
import { randomBytes } from "node:crypto";
import { type APIMessage, Routes } from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { createDiscordRest, createDiscordSink } from "../../adapters/discord/DiscordSink.ts";
import { NO_MENTIONS, stopRow } from "../../adapters/discord/discordComponents.ts";
import { PlatformError } from "../../src/errors.ts";
import { createLogger } from "../../src/logger.ts";
import type { ReplyImage, ReplyTarget } from "../../src/types.ts";
import { DiscordSimulator, Permission } from "../sim/discord/DiscordSimulator.ts";
import { encodePng } from "../sim/images/png.ts";
import { customIds } from "./discordTestbed.ts";

const BOT = "900000000000000001";
const GUILD = "200000000000000001";
const GENERAL = "300000000000000001";
const ALICE = { id: "500000000000000001", username: "alice" };
const logger = createLogger({ level: "silent" });
const auth = { DISCORD_TOKEN: "fake-token-for-sim" };

let sim: DiscordSimulator;
afterEach(async () => {
  await sim?.stop();
});

async function setup(limit?: number) {
  sim = await DiscordSimulator.start({ botUserId: BOT, ...(limit ? { attachmentSizeLimit: limit } : {}) });
  sim.addGuild({ id: GUILD, name: "G", channels: [{ id: GENERAL, name: "general", type: 0 }], members: [{ user: ALICE }] });
  const config = { ...auth, DISCORD_API_URL: sim.apiBase };
  const rest = createDiscordRest(config);
  const sink = createDiscordSink(config, logger, { rest, minPreviewIntervalMs: 10_000 });
  const m = (await rest.post(Routes.channelMessages(GENERAL), {
    body: { content: "⏳", components: [stopRow("discord-img-1")], allowed_mentions: NO_MENTIONS },
  })) as APIMessage;
  const target: ReplyTarget = { platform: "discord", channelId: GENERAL, messageId: m.id, workspaceId: GUILD, requestId: "discord-img-1" };
  return { sink, target };
}

function image(name: string, final: boolean, side = 16): ReplyImage {
  // Noise: it does not compress, so a 64×64 picture is well over a 200-byte upload limit.
  const rgb = randomBytes(side * side * 3);
  return {
    bytes: encodePng({ width: side, height: side, rgb }),
    mime: "image/png",
    filename: name,
    alt: "noise",
    caption: `step ${name}`,
    final,
  };
}

const files = (id: string) => (sim.message(id)!.attachments as Array<{ filename: string; description?: string }>).map((a) => a.filename);

describe("DiscordSink.showImage", () => {
  it("replaces the picture; skips a preview that comes too soon; the final one lands with Regenerate and no Stop", async () => {
    const { sink, target } = await setup();
    await sink.showImage(target, image("preview-1.png", false));
    expect(files(target.messageId)).toEqual(["preview-1.png"]);
    expect(customIds(sim.message(target.messageId)!)).toEqual(["stop:discord-img-1"]);
    await sink.showImage(target, image("preview-2.png", false));
    expect(files(target.messageId)).toEqual(["preview-1.png"]);
    await sink.showImage(target, image("imagine-5.png", true));
    const m = sim.message(target.messageId)!;
    expect(files(target.messageId)).toEqual(["imagine-5.png"]);
    expect(m.content).toBe("step imagine-5.png");
    expect(customIds(m)).toEqual(["regen:discord-img-1"]);
    expect(sim.uploads.map((u) => u.description)).toEqual(["noise", "noise"]);
  });

  it("an upload that is too large or not permitted is a 4xx PlatformError", async () => {
    const big = await setup(200);
    const tooLarge = await big.sink.showImage(big.target, image("imagine-1.png", true, 64)).catch((e: unknown) => e);
    expect(tooLarge).toBeInstanceOf(PlatformError);
    expect((tooLarge as PlatformError).status).toBe(413);
    await sim.stop();
    const denied = await setup();
    sim.setChannelOverwrite(GENERAL, { id: BOT, type: 1, deny: Permission.AttachFiles });
    const refused = await denied.sink.showImage(denied.target, image("imagine-1.png", true)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PlatformError);
    expect((refused as PlatformError).status).toBe(403);
  });
});
