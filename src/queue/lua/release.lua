--[[
  Take a reserved entry out of its conversation's inbox: its placeholder could not be posted
  (the adapter releases it), or the reservation expired without being attached (a worker drops
  it: the adapter died between reserving and attaching). The request, its reply state, the
  reservation and the dedupe mark go, so the platform message may be taken again. Entries whose
  reply target is attached are never touched.

    Input:
      KEYS[1] the conversation's inbox
      KEYS[2] request key
      KEYS[3] reply state hash
      KEYS[4] reservation key
      KEYS[5] dedupe key of the platform message

      ARGV[1] requestId
      ARGV[2] 'expired': only when the reservation has expired; 'any': whenever it is reserved

    Output:
      1  released
      0  left alone: attached, not in the inbox, or (with 'expired') the reservation is alive
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 0 end
if redis.call('HGET', KEYS[3], 'state') ~= 'reserved' then return 0 end
if ARGV[2] == 'expired' and redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return 1
