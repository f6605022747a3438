package redis

import goredis "github.com/redis/go-redis/v9"

// Fields of the record hash. A tombstone is a record with a generation and
// no value field.
const (
	fieldGen     = "gen" // decimal generation, > 0 once written
	fieldValue   = "v"   // the value; absent in a tombstone
	fieldWriteID = "w"   // random ID of the write that set gen (CAS retries)
)

// Every write is one script, so it is atomic: Redis runs a script without
// interleaving other commands. The scripts touch only KEYS, which share a
// hash tag, so they also run on Redis Cluster. None sets a TTL.

// casScript: KEYS[1] record; ARGV gen, gen+1, value, write ID. Returns the
// new generation, or 0 when the record is not at gen. A retry of a write
// that landed (same write ID, record at gen+1) returns gen+1 again.
var casScript = goredis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'gen') or '0'
if cur ~= ARGV[1] then
	if cur == ARGV[2] and redis.call('HGET', KEYS[1], 'w') == ARGV[4] then
		return tonumber(ARGV[2])
	end
	return 0
end
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'w', ARGV[4])
return gen
`)

// putScript: KEYS[1] record; ARGV value. Stores unconditionally, returns
// the new generation. It replaces a corrupt record (not a hash, or a
// generation that is not a positive integer), as storage.ErrCorrupt
// promises. The lost generation cannot be known, so the new one starts at
// the server's clock in microseconds, beyond any count a record reaches
// one write at a time: generations still never repeat under a key.
var putScript = goredis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local corrupt = false
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'hash' and t ~= 'none' then
	redis.call('DEL', KEYS[1])
	corrupt = true
end
local g = redis.call('HGET', KEYS[1], 'gen')
if t == 'hash' and not (g and string.match(g, '^[1-9][0-9]*$')) then
	corrupt = true
end
if corrupt then
	local now = redis.call('TIME')
	redis.call('HSET', KEYS[1], 'gen', now[1] .. string.format('%06d', tonumber(now[2])))
end
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('HDEL', KEYS[1], 'w')
return gen
`)

// deleteScript: KEYS[1] record. Turns a value into a tombstone with the
// next generation; a no-op (returning 0) when there is no value.
var deleteScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'v') == 0 then
	return 0
end
redis.call('HDEL', KEYS[1], 'v', 'w')
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
`)

// acquireScript: KEYS[1] lock; ARGV token, lease in ms. Takes the lock when
// free; also succeeds when the lock already holds our token (a retried
// SET whose first reply was lost). Returns 1 when held, else 0.
var acquireScript = goredis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('PEXPIRE', KEYS[1], ARGV[2])
	return 1
end
return 0
`)

// renewScript: KEYS[1] lock; ARGV token, lease in ms. Extends the lease
// only while the lock holds our token. Returns 1 when extended, else 0.
var renewScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript: KEYS[1] lock; ARGV token. Deletes the lock only while it
// holds our token. Returns 1 when deleted, else 0.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)
