if fenced() then return -1 end
return redis.call('DEL', session)
