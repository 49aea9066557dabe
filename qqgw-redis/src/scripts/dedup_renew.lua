-- Extends `owner`'s claim while its handler runs; 0 if the claim is no longer `owner`'s.
if redis.call('GET', claim) == owner then
  return redis.call('PEXPIRE', claim, claim_ttl_ms)
end
return 0
