--[[
  Record the answer a worker decided on, before its final edit, so that a retry after a crash
  between the final edit and the commit delivers and commits this same answer instead of
  generating another. Only while the caller still holds the job's lock (and, with a lease, the
  conversation's lease: leaseTake.lua).

    Input:
      KEYS[1] the job's lock key (not read when ARGV[2] is '')
      KEYS[2] reply state hash
      KEYS[3] the conversation's lease key (not read when ARGV[3] is '')

      ARGV[1] the decided answer (JSON)
      ARGV[2] lock token ('' to skip the lock fence)
      ARGV[3] the caller's lease value ('' to skip the lease fence)

    Output:
      1  recorded
      0  not recorded: another worker holds the job's lock or the conversation's lease
]]
if ARGV[2] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[2], 'decided', ARGV[1])
return 1
