-- Deletes the lease if it is still ours.
if redis.call('GET', lease) == owner then
  return redis.call('DEL', lease)
end
return 0
