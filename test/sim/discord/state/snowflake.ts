/** Discord-style snowflake ids (ms since the Discord epoch << 22 | increment), increasing per generator. */

const DISCORD_EPOCH = 1420070400000n;

export function createSnowflakeGenerator(workerId = 1): () => string {
  let last = 0n;
  let increment = 0n;
  return () => {
    const ms = BigInt(Date.now()) - DISCORD_EPOCH;
    let id = (ms << 22n) | (BigInt(workerId & 31) << 17n) | (increment & 0xfffn);
    increment++;
    if (id <= last) id = last + 1n;
    last = id;
    return id.toString();
  };
}

/** The creation time encoded in a snowflake, as ms since the Unix epoch. */
export function snowflakeTime(id: string): number {
  try {
    return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
  } catch {
    return Date.now();
  }
}
