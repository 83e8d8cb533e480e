/**
 * discord.js 14 handles a RESUMED dispatch after an `await` inside @discordjs/ws, so an
 * INVALID_SESSION that arrives right behind it can clear the shard's session first; the RESUMED
 * handler then reads `sessionInfo.sequence` of null and throws inside an event listener — an
 * unhandled rejection that ends the process (seen on a loaded CI run of the gateway simulator).
 * The resume it reports is already void (the shard re-identifies), so the packet is dropped with
 * a debug line instead. Everything else goes to discord.js unchanged.
 */
import type { Client } from "discord.js";
import type { Logger } from "../../src/logger.ts";

interface PacketManager {
  handlePacket(packet?: { t?: string }, shard?: { id?: number; sessionInfo?: unknown }): boolean;
}

export function guardResumeRace(client: Client, log: Pick<Logger, "debug">): void {
  const ws = client.ws as unknown as PacketManager;
  const original = ws.handlePacket.bind(ws);
  ws.handlePacket = (packet, shard) => {
    if (packet?.t === "RESUMED" && shard && shard.sessionInfo == null) {
      log.debug({ shard: shard.id }, "RESUMED for a session already invalidated; dropped");
      return true;
    }
    return original(packet, shard);
  };
}
