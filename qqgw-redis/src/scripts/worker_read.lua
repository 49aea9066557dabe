-- Tells whether entries were trimmed from `stream` before `group` read them: the group's
-- last delivered entry is before the last one the sink trimmed (`trimmed`, field `cut`).
-- Answers {-1} when the stream or the group is missing, else {1, lost}: `lost` the group's
-- last delivered id and the last trimmed id (or false). The worker runs it in one
-- transaction (MULTI/EXEC) with the XREADGROUP that reads the new entries, so that nothing
-- is trimmed in between; the entries then go from the stream to the worker without passing
-- through Lua. A stream the sink never trimmed answers at once.
local cut = redis.call('HGET', trimmed, 'cut')
if not cut then
  return {1, false}
end
if redis.call('EXISTS', stream) == 0 then
  return {-1}
end
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return false end
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end
local delivered
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  if name == group then delivered = last end
end
if not delivered then
  return {-1}
end
local lost = false
if before(delivered, cut) then
  lost = {delivered, cut}
end
return {1, lost}
