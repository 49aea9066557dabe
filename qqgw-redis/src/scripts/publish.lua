-- Fencing check, the checkpoint compared with what the writer last wrote, XADD, the new
-- checkpoint, then the bound: one script, so the entry is in the stream if and only if the
-- checkpoint has moved past it. An entry that ends the session (the gap of a lost session)
-- deletes the checkpoint in the same step. Answers {1, entry id}; {-1} when fenced;
-- {-2, id, seq} with the checkpoint Redis holds when it is not the expected one (Redis
-- lost writes).
if fenced() then return {-1} end
local current = redis.call('HMGET', session, 'id', 'seq')
local current_id, current_seq = current[1] or '', current[2] or ''
if expect == '1' and (current_id ~= expected_id or current_seq ~= expected_seq) then
  return {-2, current_id, current_seq}
end
local entry = redis.call('XADD', stream, '*', unpack(fields))
-- READY's entry: the session the IDENTIFY started is known now.
if clears_identifying == '1' then
  redis.call('DEL', identifying)
end
if ends_session == '1' then
  redis.call('DEL', session)
elseif id ~= '' and seq ~= '' then
  redis.call('HSET', session, 'id', id, 'seq', seq, 'shard', shard)
  redis.call('PEXPIRE', session, ttl_ms)
end

-- Bounds the stream to `max_len` entries, trimming a tenth of it (at most 100 entries) at
-- a time with XTRIM MINID, so the script knows the last entry it trimmed. Each consumer
-- group that had not read that far lost entries: a gap entry naming the group says so.
-- `trimmed` keeps, per group, the id of its last report; a new one is written only once
-- that one was trimmed too, so a group that is down for long finds one report when it
-- comes back, not one per trim.
local maxlen = tonumber(max_len)
local slack = math.max(1, math.min(100, math.floor(maxlen / 10)))
local length = redis.call('XLEN', stream)
if length > maxlen + slack then
  local excess = length - maxlen
  local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess + 1)
  local last_trimmed, cut = head[excess][1], head[excess + 1][1]
  redis.call('XTRIM', stream, 'MINID', cut)
  local function before(a, b)
    local am, as = string.match(a, '^(%d+)-(%d+)$')
    local bm, bs = string.match(b, '^(%d+)-(%d+)$')
    if not am or not bm then return true end
    am, bm = tonumber(am), tonumber(bm)
    if am ~= bm then return am < bm end
    return tonumber(as) < tonumber(bs)
  end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local name, delivered
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
    if name and delivered and before(delivered, last_trimmed) then
      local reported = redis.call('HGET', trimmed, name)
      if not reported or before(reported, cut) then
        local report = cjson.encode({kind = 'trimmed', group = name, after = 0})
        local report_id = redis.call('XADD', stream, '*', gap_field, report)
        redis.call('HSET', trimmed, name, report_id)
        redis.call('PEXPIRE', trimmed, ttl_ms)
      end
    end
  end
end
return {1, entry}
