// Package redis is a [storage.Store], [storage.Locker] and
// [storage.Versioned] on Redis, through github.com/redis/go-redis/v9, for a
// fleet of processes on many machines that share one rotating refresh
// token.
//
//	rdb := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
//	store, err := redis.New(ctx, rdb) // checks the server's persistence
//
// [New] accepts any go-redis client: a single server, a Sentinel failover
// client, a cluster or a ring. The store does not close it. Set
// ContextTimeoutEnabled on the client so that every call honours its
// context's deadline; without it go-redis waits for its own read timeout
// (3 s, then up to 3 retries). go-redis logs failed dials through its own
// package-level logger; silence it with goredis.SetLogger.
//
// # Required server settings
//
// A lost write can hand a fleet a refresh token that was already spent,
// and the identity provider then revokes the session. New therefore only
// accepts a Redis that cannot lose an acknowledged write; in redis.conf:
//
//	appendonly yes
//	appendfsync always
//	maxmemory-policy noeviction
//
// (Debian's packaged redis.conf has appendonly no, which loses every write
// since the last snapshot on a crash, up to an hour.) A volatile-* policy
// (volatile-lru, Memorystore's default) is accepted too: it evicts only
// keys with a TTL, and the token records never get one. The lock keys do
// have one, so under memory pressure a lock could be evicted; the
// generation compare-and-set on the record still fences every write. An
// allkeys-* policy is refused, even with maxmemory 0 (which can change at
// run time).
//
// New reads the settings with CONFIG GET. Where CONFIG is disabled or
// denied (managed Redis services), it falls back to INFO persistence and
// INFO memory, which do not show appendfsync: New then refuses with
// "appendfsync could not be verified". A refusal is an
// [*UnsafePersistenceError] naming the setting, matching
// [ErrUnsafePersistence].
//
// # The override
//
// [Options].AllowUnsafePersistence skips the check (New then only PINGs).
// Use it when you verified the settings another way, or accept that a
// crash can cost a login: the token source never follows the store
// backwards while it runs ("healing" a rolled-back store from memory), but
// processes that start after the loss cannot.
//
// # Replication and failover
//
// Even with the settings above, a replicated Redis with automatic failover
// (Sentinel, Cluster, most managed offerings) can lose a rotation:
// replication is asynchronous, so a write acknowledged by the old primary
// may never reach the replica that is promoted, and a lock held on the old
// primary is not held on the new one. WAIT does not make Redis a strongly
// consistent store. The generation compare-and-set keeps two processes
// from both saving over one generation on one primary; it cannot bring
// back a write the new primary never saw.
//
// # Key layout
//
// Each store key k becomes two Redis keys, with h the hex SHA-256 of k (any
// key works: braces, NUL bytes, any length) and p [Options].Prefix
// (default "tokenrefresh:"):
//
//	p{h}:token  a hash: gen (decimal generation), v (the value), w (the
//	            ID of the compare-and-set that wrote it); no TTL, ever
//	p{h}:lock   a string: the holder's random 128-bit token, with a TTL
//	            (the lease)
//
// {h} is a hash tag: both keys live in one Redis Cluster slot. A Delete
// leaves the hash with gen and no v (a tombstone), so generations never
// repeat; tombstones are small and never expire.
//
// Every write is one Lua script, atomic on the server. CompareAndSwap
// writes only if gen still holds the generation the caller read. go-redis
// retries a command whose reply was lost (Options.MaxRetries 0 means 3
// retries; -1 disables them): a retried compare-and-set recognises its own
// write by w and reports success instead of a conflict, and a retried lock
// acquisition recognises its own token. A retried Put moves the generation
// on twice, which is harmless.
//
// # Locks and leases
//
// [Store.Lock] sets p{h}:lock with SET NX PX [Options].LockLease (default
// 10 s) and, while the lock is busy, polls with a jittered backoff from
// 2 ms to 100 ms until it is free or the context ends. The lock does not
// block reads or writes of the record. While held, a goroutine renews the
// lease every LockLease/3, only as long as the lock still holds our token;
// unlock deletes the lock only if it still holds our token.
//
// Unlike a PostgreSQL lock, a Redis lock does not die with its holder's
// connection: when a holder is killed, the others take the lock over only
// after its lease runs out, up to LockLease later. A holder that pauses
// (SIGSTOP, a long GC, a suspended VM) for longer than the lease loses the
// lock without noticing; its unlock then returns an error wrapping
// [ErrLockLost], and its writes meanwhile are fenced by the generation
// compare-and-set. Redis expires keys on its wall clock, so a clock jump on
// the server shortens or lengthens leases.
//
// # Errors
//
// Errors start with "redis: " and wrap the go-redis error. A read-only
// replica maps to [storage.ErrReadOnly]; out of memory (maxmemory with
// noeviction) and a MISCONF refusal for a full disk to [storage.ErrNoSpace]
// (with appendfsync always, Redis exits instead when it cannot write its
// append-only file); a record that is not ours (wrong type, a malformed
// generation) to [storage.ErrCorrupt], which Put replaces. A cancelled or
// expired context is wrapped. Errors never contain stored values or
// credentials.
package redis
