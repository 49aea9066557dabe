-- Removes from `group` the consumers of `stream` other than `consumer` that have nothing
-- pending and have not been heard of for `idle_ms`: workers that died (a consumer with
-- pending entries is left until they are claimed, since removing it would drop them).
-- Answers how many went.
local removed = 0
if redis.call('EXISTS', stream) == 0 then
  return 0
end
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and name ~= consumer and pending == 0 and idle and idle > tonumber(idle_ms) then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, name)
    removed = removed + 1
  end
end
return removed
