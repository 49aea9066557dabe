-- Takes the lease if nobody holds it, and then the next fencing token: the counter one
-- higher than the current token's, and `owner` as the nonce — `<counter>:<owner>`, compared
-- whole. Should Redis lose writes, the counter can go back and be drawn again; the nonce,
-- drawn afresh by each acquisition, still tells the two owners apart.
if redis.call('SET', lease, owner, 'NX', 'PX', ttl_ms) then
  local current = redis.call('GET', fence)
  local counter = (current and tonumber(string.match(current, '^(%d+)'))) or 0
  local token = string.format('%d:%s', counter + 1, owner)
  redis.call('SET', fence, token)
  return token
end
return false
