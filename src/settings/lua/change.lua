--[[
  Change settings of one scope and record each change in the audit log, atomically: a change is
  never stored without its audit entry, and the scope stays listed in the index exactly while it
  has settings.

    Input:
      KEYS[1] the scope's settings hash
      KEYS[2] the index of scopes with settings (set of scope ids)
      KEYS[3] the audit log (list, newest first)

      ARGV[1] the scope id
      ARGV[2] most audit entries kept
      ARGV[3] 'set' or 'reset'
      ARGV[4] number of changes n
      then n triples: field, value ('' for reset), audit entry (JSON object, without "from")

    Output:
      the previous value of each field (nil where none). A reset of a field that was not set
      changes nothing and writes no audit entry.
]]
local function cut(s, n)
  if #s <= n then return s end
  local i = n
  -- Never end inside a UTF-8 character: back off over continuation bytes.
  while i > 0 do
    local b = string.byte(s, i + 1)
    if b == nil or b < 128 or b >= 192 then break end
    i = i - 1
  end
  return string.sub(s, 1, i) .. '…'
end

local previous = {}
local n = tonumber(ARGV[4])
for i = 1, n do
  local field = ARGV[4 + (i - 1) * 3 + 1]
  local value = ARGV[4 + (i - 1) * 3 + 2]
  local entry = ARGV[4 + (i - 1) * 3 + 3]
  local prev = redis.call('HGET', KEYS[1], field)
  previous[i] = prev
  local changed = true
  if ARGV[3] == 'set' then
    redis.call('HSET', KEYS[1], field, value)
  elseif prev then
    redis.call('HDEL', KEYS[1], field)
  else
    changed = false
  end
  if changed then
    if prev then entry = string.sub(entry, 1, -2) .. ',"from":' .. cjson.encode(cut(prev, 300)) .. '}' end
    redis.call('LPUSH', KEYS[3], entry)
  end
end
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[2]) - 1)
if redis.call('HLEN', KEYS[1]) > 0 then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
return previous
