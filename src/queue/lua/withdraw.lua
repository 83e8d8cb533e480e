--[[
  Stop pressed on a message that is still waiting: take it out of the line before any worker
  starts it, mark its reply done (nothing is remembered), set its stop flag, and close it in the
  open replies (the caller shows "Stopped before it started" in its placeholder at once). A reply
  a worker already started is left alone (its stop goes through the stop channel instead).

    Input:
      KEYS[1] the conversation's inbox
      KEYS[2] reply state hash
      KEYS[3] the request's stop flag
      KEYS[4] open replies (sorted set)
      KEYS[5] open replies' targets (hash)

      ARGV[1] requestId

    Output:
      1  taken out of the line
      0  not waiting (generating, answered, unknown)
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 0 end
if redis.call('HGET', KEYS[2], 'state') ~= 'queued' then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'done', 'outcome', 'stopped')
redis.call('SET', KEYS[3], '1', 'EX', 3600)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return 1
