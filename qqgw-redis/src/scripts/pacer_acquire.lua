-- The clock is Redis's own (TIME), the same for every process. The bucket is a sorted set
-- of slots scored by when each stops counting: `g:<id>` granted and not yet sent (ends
-- after the slot timeout), `s:<id>` sent (ends a window after the IDENTIFY). The day is a
-- hash with `remaining` and `reset_at`, restarted from QQ's latest figures once `reset_at`
-- has passed. Returns {1, 0} when granted, {0, wait_ms} when not.
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
return {1, 0}
