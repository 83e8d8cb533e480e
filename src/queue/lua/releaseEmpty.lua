--[[
  Take a conversation off the sweeper's worklist if its inbox is empty. Atomic, so a message
  appended meanwhile (which lists the conversation again) is never left unlisted.

    Input:
      KEYS[1] the conversation's inbox
      KEYS[2] set of conversations with an inbox (the sweeper's worklist)

      ARGV[1] conversation key

    Output:
      1  taken off the worklist
      0  left listed: the inbox has messages, or the conversation was not listed
]]
if redis.call('ZCARD', KEYS[1]) == 0 then return redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
