--[[
  Commit one answered message (the workers' last step of the inbox protocol): append its turns
  to the conversation's memory, drop the oldest turns that no longer fit, refresh the memory's
  TTL, take the request out of the inbox and set its reply state to done (or failed, or refused).
  Fenced three ways:
    - the request must still be in the inbox (a retry must not commit twice);
    - the caller must still hold the job's lock (a worker whose lock expired must not commit)
      and, with a lease, the conversation's lease (leaseTake.lua);
    - the turns are written only if no reset happened since the caller read the memory
      (the request still leaves the inbox: it was answered, into a conversation since forgotten).

    Input:
      KEYS[1] the conversation's inbox
      KEYS[2] the conversation's turns (list of ChatTurn JSON)
      KEYS[3] the conversation's reset epoch
      KEYS[4] reply state hash
      KEYS[5] the job's lock key (not read when ARGV[3] is '')
      KEYS[6] the conversation's lease key (not read when ARGV[10] is '')

      ARGV[1]  requestId
      ARGV[2]  epoch the caller read with the memory ('' matches no epoch: nothing is written)
      ARGV[3]  lock token ('' to skip the lock fence)
      ARGV[4]  memory TTL (seconds)
      ARGV[5]  oldest stored turns to drop
      ARGV[6]  '1': the new assistant turn replaces the stored last one (regenerate)
      ARGV[7]  most turns kept whatever their size
      ARGV[8]  reply state to set ('done', 'failed' or 'refused')
      ARGV[9]  number of turns n
      ARGV[10] the caller's lease value ('' to skip the lease fence)
      ARGV[11] .. ARGV[10 + n] the turns (ChatTurn JSON)

    Output:
      'OK'                 committed
      'RESET_SINCE'        out of the inbox, reply state set, turns not written (reset since)
      'ALREADY_COMMITTED'  nothing done: the request is not in the inbox
      'LOCK_LOST'          nothing done: another worker holds the job's lock or the lease
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return 'ALREADY_COMMITTED' end
if ARGV[3] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[3] then return 'LOCK_LOST' end
if ARGV[10] ~= '' and redis.call('GET', KEYS[6]) ~= ARGV[10] then return 'LOCK_LOST' end
local epoch = redis.call('GET', KEYS[3]) or '0'
if epoch == ARGV[2] then
  if ARGV[6] == '1' then
    local last = redis.call('LINDEX', KEYS[2], -1)
    if last and string.find(last, '"role":"assistant"', 1, true) then redis.call('RPOP', KEYS[2]) end
  end
  local n = tonumber(ARGV[9])
  for i = 1, n do redis.call('RPUSH', KEYS[2], ARGV[10 + i]) end
  local drop = tonumber(ARGV[5])
  if drop > 0 then redis.call('LTRIM', KEYS[2], drop, -1) end
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[7]), -1)
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], 'state', ARGV[8])
if epoch == ARGV[2] then return 'OK' end
return 'RESET_SINCE'
