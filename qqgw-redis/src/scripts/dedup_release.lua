-- Gives `owner`'s claim up (the event was not handled).
if redis.call('GET', claim) == owner then
  return redis.call('DEL', claim)
end
return 0
