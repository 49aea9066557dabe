-- What the outbox scripts share: the answer of a request, written once per request id.
local function result_key(id) return prefix .. ':outbox:result:' .. id end
local function claim_key(id) return prefix .. ':outbox:claim:' .. id end

-- The request ids the outbox takes: 1 to 128 of A-Z a-z 0-9 _ . : -
local function valid_id(id)
  return id ~= nil and #id >= 1 and #id <= 128 and string.match(id, '^[%w_%.:%-]+$') ~= nil
end

-- Answers `entry` (request `id`, '' when it has no valid one) with the JSON `json`: the
-- answer is kept under the id (the first answer of an id wins) and appended to the
-- results stream, then the entry is acknowledged and deleted, and its claim dropped.
-- Returns 1 if this was the first answer of the id.
local function answer(entry, id, json)
  local first = 1
  if id ~= '' then
    if not redis.call('SET', result_key(id), json, 'NX', 'PX', tonumber(result_ttl_ms)) then first = 0 end
  end
  if first == 1 then
    redis.call('XADD', results, 'MAXLEN', '~', tonumber(results_max_len), '*', 'v', '1', 'id', id, 'entry', entry, 'result', json)
  end
  redis.call('XACK', outbox, group, entry)
  redis.call('XDEL', outbox, entry)
  if id ~= '' and redis.call('GET', claim_key(id)) == entry then
    redis.call('DEL', claim_key(id))
  end
  return first
end
