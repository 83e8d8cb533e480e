import { Client, GatewayIntentBits } from "discord.js";
import { afterEach, describe, expect, it } from "vitest";
import { guardResumeRace } from "../../adapters/discord/guardResumeRace.ts";

type Handle = (packet?: { t?: string; d?: unknown }, shard?: { id: number; sessionInfo: unknown; closeSequence?: number }) => boolean;

let client: Client | undefined;
afterEach(async () => {
  await client?.destroy();
  client = undefined;
});

function readyClient(): { client: Client; handle: Handle } {
  client = new Client({ intents: [GatewayIntentBits.Guilds] });
  const ws = client.ws as unknown as { status: number; handlePacket: Handle };
  ws.status = 0; // Status.Ready: packets go straight to their handlers
  return { client, handle: (p, s) => ws.handlePacket(p, s) };
}

describe("guardResumeRace", () => {
  it("discord.js alone throws on a RESUMED whose session was already invalidated (the race it guards)", () => {
    const { handle } = readyClient();
    expect(() => handle({ t: "RESUMED", d: {} }, { id: 0, sessionInfo: null, closeSequence: 3 })).toThrow(/sequence/);
  });

  it("drops that RESUMED with a debug line and still reports live resumes", () => {
    const { client: c, handle } = readyClient();
    const debug: unknown[] = [];
    guardResumeRace(c, { debug: (o: unknown) => debug.push(o) } as never);
    const resumes: number[] = [];
    c.on("shardResume", (_id, replayed) => resumes.push(replayed));
    expect(() => handle({ t: "RESUMED", d: {} }, { id: 0, sessionInfo: null, closeSequence: 3 })).not.toThrow();
    expect(debug).toEqual([{ shard: 0 }]);
    handle({ t: "RESUMED", d: {} }, { id: 0, sessionInfo: { sequence: 7 }, closeSequence: 3 });
    expect(resumes).toEqual([4]);
  });
});
