-- Writes the checkpoint (`id`, `seq`, `shard`) into the hash `session`, never moving it
-- back within one session, and keeps the hash `ttl_ms` from now.
local function checkpoint()
  local current = redis.call('HMGET', session, 'id', 'seq')
  if not (current[1] == id and tonumber(current[2]) and tonumber(current[2]) > tonumber(seq)) then
    redis.call('HSET', session, 'id', id, 'seq', seq, 'shard', shard)
  end
  redis.call('PEXPIRE', session, ttl_ms)
end
