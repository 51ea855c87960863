package state

import "github.com/redis/go-redis/v9"

// The Redis backend's writes. Each is one Lua script, so that the write
// and the PUBLISH of the change to the key's watch channel (the last
// ARGV) happen atomically and in order: watchers see every change made
// through herd, with its value. A change is 's' and the new value, or 'd'
// for a delete. Scripts run as EVALSHA, falling back to EVAL once after a
// server restart (go-redis's Script.Run).
const (
	// ARGV: value, ttl in ms (0: none), watch channel.
	srcSet = `
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.call('PUBLISH', ARGV[3], 's' .. ARGV[1])
return 1`

	// ARGV: watch channel.
	srcDel = `
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('PUBLISH', ARGV[1], 'd')
end
return 1`

	// ARGV: delta, watch channel. The new value is read back as a string:
	// Lua numbers are doubles and would round large integers.
	srcIncr = `
redis.call('INCRBY', KEYS[1], ARGV[1])
local v = redis.call('GET', KEYS[1])
redis.call('PUBLISH', ARGV[2], 's' .. v)
return v`

	// ARGV: has old ('1'/'0'), old, has new ('1'/'0'), new, watch channel.
	// A swapped key keeps its TTL (KEEPTTL).
	srcCAS = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if cur then return 0 end
elseif cur == false or cur ~= ARGV[2] then
  return 0
end
if ARGV[3] == '0' then
  if cur then
    redis.call('DEL', KEYS[1])
    redis.call('PUBLISH', ARGV[5], 'd')
  end
else
  redis.call('SET', KEYS[1], ARGV[4], 'KEEPTTL')
  redis.call('PUBLISH', ARGV[5], 's' .. ARGV[4])
end
return 1`
)

// redisScripts are one store's scripts.
type redisScripts struct {
	set, del, incr, cas *redis.Script
}

func newRedisScripts() redisScripts {
	return redisScripts{set: redis.NewScript(srcSet), del: redis.NewScript(srcDel),
		incr: redis.NewScript(srcIncr), cas: redis.NewScript(srcCAS)}
}
