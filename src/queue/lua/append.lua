--[[
  Append one message to its conversation's inbox (the producers' step of the inbox protocol), or
  reserve its place there. In one atomic step: drop a redelivered platform message (dedupe),
  count the user's messages this minute (rate limit), refuse when the conversation already has
  `cap` messages waiting; otherwise give the message the next arrival number, add it to the
  inbox, store the request and list the conversation for the sweeper.
  - Appended (reservation TTL 0): the request is complete and its reply state is "queued".
  - Reserved (TTL > 0): the request has no reply target yet; its reply state is "reserved" and the
    reservation key lives for the TTL. A reserved entry blocks its conversation (workers never
    start it nor skip past it) until attach.lua fills in the reply target, release.lua takes it
    out, or the reservation expires and a worker drops it.
  A refused message leaves its dedupe mark removed, so it can be sent again later.

    Input:
      KEYS[1] dedupe key of the platform message
      KEYS[2] the conversation's inbox (sorted set: requestId by arrival number)
      KEYS[3] request key (the ChatRequest as JSON)
      KEYS[4] arrival sequence counter
      KEYS[5] set of conversations with an inbox (the sweeper's worklist)
      KEYS[6] the user's message counter for this minute
      KEYS[7] reply state hash
      KEYS[8] reservation key (not written when ARGV[8] is 0)

      ARGV[1] requestId
      ARGV[2] request JSON
      ARGV[3] dedupe TTL (seconds)
      ARGV[4] request TTL (seconds), also the reply state's
      ARGV[5] most messages waiting in one conversation
      ARGV[6] conversation key
      ARGV[7] most messages per user per minute (0: no limit)
      ARGV[8] reservation TTL (milliseconds; 0: append a complete request)

    Output:
      {seq, ahead}  queued or reserved: its arrival number and how many messages of the conversation wait ahead
      {-1, 0}       duplicate: this platform message was already received
      {-2, waiting} inbox full: `waiting` messages wait already
      {-3, sent}    rate limited: `sent` messages counted this minute before this one
]]
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) == false then return {-1, 0} end
local limit = tonumber(ARGV[7])
if limit > 0 then
  local used = redis.call('INCR', KEYS[6])
  if used == 1 then redis.call('EXPIRE', KEYS[6], 120) end
  if used > limit then redis.call('DEL', KEYS[1]); return {-3, used - 1} end
end
local n = redis.call('ZCARD', KEYS[2])
if n >= tonumber(ARGV[5]) then redis.call('DEL', KEYS[1]); return {-2, n} end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[4])
redis.call('SADD', KEYS[5], ARGV[6])
local reserve = tonumber(ARGV[8])
if reserve > 0 then
  redis.call('HSET', KEYS[7], 'state', 'reserved')
  redis.call('SET', KEYS[8], '1', 'PX', reserve)
else
  redis.call('HSET', KEYS[7], 'state', 'queued', 'place', n)
end
redis.call('EXPIRE', KEYS[7], ARGV[4])
return {seq, n}
