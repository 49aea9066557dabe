-- `slot` went unused: its place and its share of the daily budget come back.
if redis.call('ZREM', bucket, 'g:' .. slot) == 1 and redis.call('EXISTS', day) == 1 then
  redis.call('HINCRBY', day, 'remaining', 1)
end
if redis.call('GET', identifying) == slot then
  redis.call('DEL', identifying)
end
return 1
