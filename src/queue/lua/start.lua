--[[
  A worker starts answering the head of an inbox: mark the reply "generating" — only while the
  request is still in the inbox (a message stopped while it waited was taken out by withdraw.lua
  and must not be answered) and attached (a reserved entry has no placeholder yet).

    Input:
      KEYS[1] the conversation's inbox
      KEYS[2] reply state hash

      ARGV[1] requestId
      ARGV[2] the worker's id

    Output:
      1   marked generating
      0   not in the inbox any more (withdrawn or committed): do not answer it
      -1  still reserved: wait for its placeholder
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 0 end
if redis.call('HGET', KEYS[2], 'state') == 'reserved' then return -1 end
redis.call('HSET', KEYS[2], 'state', 'generating', 'worker', ARGV[2])
return 1
