-- Extends the lease if it is still ours.
if redis.call('GET', lease) == owner then
  return redis.call('PEXPIRE', lease, ttl_ms)
end
return 0
