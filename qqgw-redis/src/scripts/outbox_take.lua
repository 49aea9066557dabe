-- Takes outbox requests to execute (see OutboxTake in mod.rs). Everything a worker can
-- put in an entry is checked here, before a byte of it leaves Redis: a request that
-- cannot be executed is answered at once, so that every entry is answered.
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.pcall('XGROUP', 'CREATE', outbox, group, '0', 'MKSTREAM')

local refused = {}
local function refuse(entry, id, outcome, message)
  refused[#refused + 1] = outcome
  answer(entry, id, cjson.encode({
    v = 1, id = id, entry = entry, ok = false, answered_at = now_ms,
    error = {outcome = outcome, message = message},
  }))
end

local taken = {}
local excess = 0
local function consider(entry, flat, shed)
  local fields, size = {}, 0
  for i = 1, #flat, 2 do
    fields[flat[i]] = flat[i + 1]
    size = size + #flat[i] + #flat[i + 1]
  end
  local id = fields['id']
  if not valid_id(id) then
    refuse(entry, '', 'invalid', 'the entry has no valid id: 1 to 128 characters of A-Z a-z 0-9 _ . : -')
    return
  end
  local v = fields['v'] or '1'
  if string.match(v, '^(%d+)') ~= '1' then
    refuse(entry, id, 'invalid', 'format version ' .. v .. ' is not 1')
    return
  end
  if size > tonumber(max_bytes) then
    refuse(entry, id, 'too_large', 'the entry has ' .. size .. ' bytes, more than ' .. max_bytes)
    return
  end
  local at = tonumber(string.match(entry, '^(%d+)-'))
  if at and now_ms - at > tonumber(max_age_ms) then
    refuse(entry, id, 'expired', 'the request waited ' .. (now_ms - at) .. ' ms, more than ' .. max_age_ms)
    return
  end
  if shed and excess > 0 then
    excess = excess - 1
    refuse(entry, id, 'outbox_full', 'the outbox holds more than ' .. max_len .. ' entries')
    return
  end
  -- Answered already (a repeated request id): nothing more to do.
  if redis.call('EXISTS', result_key(id)) == 1 then
    redis.call('XACK', outbox, group, entry)
    redis.call('XDEL', outbox, entry)
    return
  end
  local claim = redis.call('GET', claim_key(id))
  if claim == entry then
    return -- still being executed: left pending
  end
  if claim then
    -- The same request id, being executed from another entry: that one answers it.
    redis.call('XACK', outbox, group, entry)
    redis.call('XDEL', outbox, entry)
    return
  end
  redis.call('SET', claim_key(id), entry, 'PX', tonumber(claim_ttl_ms))
  taken[#taken + 1] = {entry, id, fields['request'] or ''}
end

if mode == 'claim' then
  if tonumber(count) > 0 then
    local claimed = redis.call('XAUTOCLAIM', outbox, group, consumer, tonumber(claim_idle_ms), '0-0', 'COUNT', tonumber(count))
    for _, e in ipairs(claimed[2]) do
      if e and e[2] then consider(e[1], e[2], false) end
    end
  end
else
  excess = math.max(0, redis.call('XLEN', outbox) - tonumber(max_len))
  local n = tonumber(count) + math.min(excess, 1000)
  if n > 0 then
    local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', outbox, '>')
    if read and read[1] then
      for _, e in ipairs(read[1][2]) do consider(e[1], e[2], true) end
    end
  end
end
local last = redis.call('XREVRANGE', outbox, '+', '-', 'COUNT', 1)
local last_id = '0-0'
if last[1] then last_id = last[1][1] end
return {taken, last_id, refused}
