-- Claims event `id` for `owner`: 'done' if it was handled already (it is in the `done` set),
-- 'first' if this claim is the one (`claim` set for `claim_ttl_ms`), 'busy' if another
-- claim holds it — the event is being handled elsewhere, and is not done yet.
if redis.call('ZSCORE', done, id) then
  return 'done'
end
if redis.call('SET', claim, owner, 'NX', 'PX', claim_ttl_ms) then
  return 'first'
end
return 'busy'
