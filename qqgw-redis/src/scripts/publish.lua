-- A batch of entries, each as if written by a script of its own run one after the other,
-- in one atomic step: for each entry the checkpoint compared with what the writer expected
-- it to be, XADD, the new checkpoint; the fencing check once (no write can come between
-- the entries); then the bound, once. An entry is in the stream if and only if the
-- checkpoint has moved past it. An entry that ends the session (the gap of a lost session)
-- deletes the checkpoint.
--
-- `entries` holds, for each entry: expect ('1': compare the checkpoint with expected_id
-- and expected_seq, both empty meaning none), expected_id, expected_seq, id and seq (the
-- checkpoint after it, when both are given), ends_session ('1'), clears_identifying ('1':
-- READY's entry, the session the IDENTIFY started is known now), the count n of its
-- field names and values, then those n strings.
--
-- Answers one answer per entry written, in order — {1, entry id} — ending at the first
-- that was not: {-1} when fenced (then nothing is written), {-2, id, seq} with the
-- checkpoint Redis holds when it is not the one expected (Redis lost writes; the entries
-- before it are written).
if fenced() then return {{-1}} end
local current = redis.call('HMGET', session, 'id', 'seq')
local current_id, current_seq = current[1] or '', current[2] or ''
-- What the entries did to the checkpoint, applied once at the end (nothing reads it
-- in between): 'set' (HSET), 'del' (DEL), 'delset' (DEL then HSET), or nothing.
local change = nil
local clear_identifying = false
local answers = {}
local i = 1
while i <= #entries do
  local expect, expected_id, expected_seq = entries[i], entries[i + 1], entries[i + 2]
  local id, seq = entries[i + 3], entries[i + 4]
  local ends_session, clears_identifying = entries[i + 5], entries[i + 6]
  local n = tonumber(entries[i + 7])
  if expect == '1' and (current_id ~= expected_id or current_seq ~= expected_seq) then
    answers[#answers + 1] = {-2, current_id, current_seq}
    break
  end
  local entry = redis.call('XADD', stream, '*', unpack(entries, i + 8, i + 7 + n))
  if clears_identifying == '1' then
    clear_identifying = true
  end
  if ends_session == '1' then
    current_id, current_seq = '', ''
    change = 'del'
  elseif id ~= '' and seq ~= '' then
    current_id, current_seq = id, seq
    if change == 'del' or change == 'delset' then change = 'delset' else change = 'set' end
  end
  answers[#answers + 1] = {1, entry}
  i = i + 8 + n
end
if clear_identifying then
  redis.call('DEL', identifying)
end
if change == 'del' or change == 'delset' then
  redis.call('DEL', session)
end
if change == 'set' or change == 'delset' then
  redis.call('HSET', session, 'id', current_id, 'seq', current_seq, 'shard', shard)
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
return answers
