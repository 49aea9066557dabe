-- The fencing check every write of a shard's state starts with: `token` is the writer's
-- fencing token, or empty for a writer without one. A refused write returns -1.
local function fenced()
  return token ~= '' and redis.call('GET', fence) ~= token
end
