-- Event ids `ids` are handled: they join the `done` set (scored by Redis's clock), which
-- keeps `done_ttl_ms` of them and at most `max_done`.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, id in ipairs(ids) do
  redis.call('ZADD', done, now, id)
end
redis.call('ZREMRANGEBYSCORE', done, '-inf', now - tonumber(done_ttl_ms))
local excess = redis.call('ZCARD', done) - tonumber(max_done)
if excess > 0 then
  redis.call('ZREMRANGEBYRANK', done, 0, excess - 1)
end
redis.call('PEXPIRE', done, done_ttl_ms)
return 1
