--[[
  A job attempt takes its conversation's lease before answering it, so that only one attempt
  answers a conversation at a time even when its jobs sit in different queues (the shared queue
  and a worker's own, src/queue/WorkerRoutes.ts). The lease names the holder's BullMQ job lock
  and token (`<lock key>|<token>`); it is held only while that lock still has that token, so a
  holder whose job ended, failed or died (its lock expired) frees it without a step of its own.

    Input:
      KEYS[1] the conversation's lease key

      ARGV[1] this attempt's lease value: `<its job lock key>|<its lock token>`
      ARGV[2] how long the lease key is kept (ms; housekeeping only: liveness is the lock's)

    Output:
      1  taken (or already this attempt's)
      0  held by another attempt whose job lock is still alive
]]
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then
  local lock, token = string.match(cur, '^(.*)|([^|]*)$')
  if lock and redis.call('GET', lock) == token then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
