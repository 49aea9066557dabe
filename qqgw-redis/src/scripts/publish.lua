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
-- a time with XTRIM MINID, so the script knows the last entry it trimmed: it is recorded in
-- `trimmed` (field `cut`), where a worker whose group had not read that far finds that it
-- lost entries, and reports it before the first entry after them.
local maxlen = tonumber(max_len)
local slack = math.max(1, math.min(100, math.floor(maxlen / 10)))
local length = redis.call('XLEN', stream)
if length > maxlen + slack then
  local excess = length - maxlen
  local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', excess + 1)
  local last_trimmed, keep = head[excess][1], head[excess + 1][1]
  redis.call('XTRIM', stream, 'MINID', keep)
  redis.call('HSET', trimmed, 'cut', last_trimmed)
end
return {1, entry}
