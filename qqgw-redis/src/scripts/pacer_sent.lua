-- The IDENTIFY of `slot` was sent now: it counts for a window from Redis's now, whether or
-- not its grant had timed out meanwhile.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', bucket, 'g:' .. slot)
redis.call('ZADD', bucket, now + tonumber(window_ms), 's:' .. slot)
redis.call('PEXPIRE', bucket, tonumber(window_ms) + 60000)
return 1
