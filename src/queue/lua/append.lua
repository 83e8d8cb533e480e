--[[
  Append one message to its conversation's inbox (the producers' step of the inbox protocol).
  In one atomic step: drop a redelivered platform message (dedupe), count the user's messages
  this minute (rate limit), refuse when the conversation already has `cap` messages waiting;
  otherwise give the message the next arrival number, add it to the inbox, store the request,
  list the conversation for the sweeper and set its reply state to "queued".
  A refused message leaves its dedupe mark removed, so it can be sent again later.

    Input:
      KEYS[1] dedupe key of the platform message
      KEYS[2] the conversation's inbox (sorted set: requestId by arrival number)
      KEYS[3] request key (the ChatRequest as JSON)
      KEYS[4] arrival sequence counter
      KEYS[5] set of conversations with an inbox (the sweeper's worklist)
      KEYS[6] the user's message counter for this minute
      KEYS[7] reply state hash

      ARGV[1] requestId
      ARGV[2] request JSON
      ARGV[3] dedupe TTL (seconds)
      ARGV[4] request TTL (seconds), also the reply state's
      ARGV[5] most messages waiting in one conversation
      ARGV[6] conversation key
      ARGV[7] most messages per user per minute (0: no limit)

    Output:
      {seq, ahead}  queued: its arrival number and how many messages of the conversation wait ahead
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
redis.call('HSET', KEYS[7], 'state', 'queued')
redis.call('EXPIRE', KEYS[7], ARGV[4])
return {seq, n}
