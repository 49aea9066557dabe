-- Takes the lease if nobody holds it, and then the next fencing token.
if redis.call('SET', lease, owner, 'NX', 'PX', ttl_ms) then
  return redis.call('INCR', fence)
end
return 0
