-- Event `id` is handled: it joins the `done` set (scored by Redis's clock), which keeps
-- `done_ttl_ms` of them and at most `max_done`; `owner`'s claim goes.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', done, now, id)
redis.call('ZREMRANGEBYSCORE', done, '-inf', now - tonumber(done_ttl_ms))
local excess = redis.call('ZCARD', done) - tonumber(max_done)
if excess > 0 then
  redis.call('ZREMRANGEBYRANK', done, 0, excess - 1)
end
redis.call('PEXPIRE', done, done_ttl_ms)
if redis.call('GET', claim) == owner then
  redis.call('DEL', claim)
end
return 1
