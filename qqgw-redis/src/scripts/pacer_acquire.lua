-- The clock is Redis's own (TIME), the same for every process. The bucket is a sorted set
-- of slots scored by when each stops counting: `g:<id>` granted and not yet sent (ends
-- after the slot timeout), `s:<id>` sent (ends a window after the IDENTIFY). The day is a
-- hash with `remaining` and `reset_at`, restarted from QQ's latest figures once `reset_at`
-- has passed. Returns {1, 0} when granted, {0, wait_ms} when not.
--
-- With `token` (a shard run by a cluster), a slot is granted only while `token` is the
-- shard's fencing token, and the grant is recorded in `identifying` until READY's entry is
-- written: should the shard's process die before, the next owner knows that a session may
-- have started without Redis hearing of it.
if token ~= '' and redis.call('GET', fence) ~= token then
  return {0, tonumber(recheck_ms)}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reset_at = tonumber(redis.call('HGET', day, 'reset_at'))
if not reset_at or reset_at <= now then
  reset_at = now + tonumber(reset_after_ms)
  redis.call('HSET', day, 'remaining', remaining, 'reset_at', reset_at)
  redis.call('PEXPIREAT', day, reset_at)
end
if tonumber(redis.call('HGET', day, 'remaining')) <= 0 then
  return {0, reset_at - now}
end
redis.call('ZREMRANGEBYSCORE', bucket, '-inf', now)
if redis.call('ZCARD', bucket) >= tonumber(slots) then
  local first = redis.call('ZRANGE', bucket, 0, 0, 'WITHSCORES')
  local wait = math.max(tonumber(first[2]) - now, 1)
  if string.sub(first[1], 1, 2) == 'g:' then
    wait = math.min(wait, tonumber(recheck_ms))
  end
  return {0, wait}
end
redis.call('ZADD', bucket, now + tonumber(slot_timeout_ms), 'g:' .. slot)
redis.call('PEXPIRE', bucket, tonumber(slot_timeout_ms) + 60000)
redis.call('HINCRBY', day, 'remaining', -1)
if token ~= '' then
  redis.call('SET', identifying, slot, 'PX', identifying_ttl_ms)
end
return {1, 0}
