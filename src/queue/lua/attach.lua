--[[
  Attach the reply target to a reserved inbox entry, once its placeholder is posted: the complete
  request replaces the reserved one, the reply state becomes "queued" (with the place in line the
  placeholder shows), the reservation ends, and the reply is listed as open (its placeholder
  shows no final answer yet) for the sweeper of unanswered placeholders.
  Only while the entry is still in the inbox: a reservation that expired and was dropped by a
  worker, or released, is not brought back.

    Input:
      KEYS[1] the conversation's inbox
      KEYS[2] request key
      KEYS[3] reply state hash
      KEYS[4] reservation key
      KEYS[5] open replies (sorted set: requestId by the time its placeholder was attached, ms)
      KEYS[6] open replies' targets (hash: requestId → JSON { conversationKey, reply })

      ARGV[1] requestId
      ARGV[2] the complete request JSON
      ARGV[3] request TTL (seconds), also the reply state's
      ARGV[4] the place in line the placeholder shows
      ARGV[5] now (ms)
      ARGV[6] the open reply's JSON

    Output:
      1  attached
      0  not attached: the entry is no longer in the inbox (expired and dropped, or released)
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('HSET', KEYS[3], 'state', 'queued', 'place', ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[4])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[6])
return 1
