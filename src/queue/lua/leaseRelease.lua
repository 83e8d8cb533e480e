--[[
  Give a conversation's lease back after answering (only the holder's own value is removed).

    Input:
      KEYS[1] the conversation's lease key

      ARGV[1] the holder's lease value (`<job lock key>|<token>`)

    Output:
      1  released
      0  not held by this value (taken over, or already free)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
