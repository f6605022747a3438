package redis_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

func TestConformance(t *testing.T) {
	rdb := newClient(t, enginetest.RedisURL(t))
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return newStore(t, rdb, redis.Options{})
	})
}

// TestKeyLayout proves what lands in Redis: one hash per key under a hash
// tag, no TTL on it, and a lock key with the same tag and a TTL.
func TestKeyLayout(t *testing.T) {
	rdb := newClient(t, enginetest.RedisURL(t))
	prefix := uniquePrefix()
	s := newStore(t, rdb, redis.Options{Prefix: prefix})
	ctx := ctxWait(t)
	key := "odd {key}\x00 with braces"
	if err := s.Put(ctx, key, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	record, lock := redis.Keys(s, key)
	found, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("keys under the prefix = %q, want the record and the lock", found)
	}
	for _, k := range []string{record, lock} {
		tag := k[strings.Index(k, "{"):strings.Index(k, "}")]
		if !strings.HasPrefix(k, prefix+"{") || len(tag) != 1+64 {
			t.Errorf("key %q: want %q, a SHA-256 hash tag and a suffix", k, prefix)
		}
	}
	if rdb.ClusterKeySlot(ctx, record).Val() != rdb.ClusterKeySlot(ctx, lock).Val() {
		t.Errorf("record and lock hash to different cluster slots")
	}
	if ttl := rdb.PTTL(ctx, record).Val(); ttl != -1 {
		t.Errorf("record PTTL = %v, want -1 (no TTL, so volatile-* policies never evict it)", ttl)
	}
	if ttl := rdb.PTTL(ctx, lock).Val(); ttl <= 0 {
		t.Errorf("lock PTTL = %v, want a lease", ttl)
	}
	fields, err := rdb.HGetAll(ctx, record).Result()
	if err != nil || fields["v"] != "secret" || fields["gen"] != "1" {
		t.Errorf("record fields = %q, %v; want gen 1 and the value", fields, err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, lock).Val(); n != 0 {
		t.Errorf("lock key still exists after unlock")
	}
}

// TestCompareAndSwapRetry proves that a compare-and-set sent again with
// the same write ID (go-redis retrying a script whose reply was lost)
// reports its own success rather than a conflict, and that any other
// write in between makes it a conflict.
func TestCompareAndSwapRetry(t *testing.T) {
	rdb := newClient(t, enginetest.RedisURL(t))
	s := newStore(t, rdb, redis.Options{})
	ctx := ctxWait(t)
	record, _ := redis.Keys(s, "k")
	run := func(gen, next, id string) int64 {
		t.Helper()
		n, err := redis.CASScript.Run(ctx, rdb, []string{record}, gen, next, "v", id).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := run("0", "1", "first"); n != 1 {
		t.Fatalf("first attempt = %d, want 1", n)
	}
	if n := run("0", "1", "first"); n != 1 {
		t.Fatalf("retry of a landed write = %d, want 1 (its own success)", n)
	}
	if n := run("0", "1", "someone-else"); n != 0 {
		t.Fatalf("another writer from generation 0 = %d, want 0 (conflict)", n)
	}
	if err := s.Put(ctx, "k", []byte("put")); err != nil {
		t.Fatal(err)
	}
	if n := run("0", "1", "first"); n != 0 {
		t.Fatalf("retry after a Put = %d, want 0 (conflict)", n)
	}
}

// TestCorruptRecord proves a record this package did not write is reported
// as corrupt, not as a value, and that Put replaces a malformed hash.
func TestCorruptRecord(t *testing.T) {
	rdb := newClient(t, enginetest.RedisURL(t))
	s := newStore(t, rdb, redis.Options{})
	ctx := ctxWait(t)
	str, _ := redis.Keys(s, "string")
	rdb.Set(ctx, str, "not a hash", 0)
	if _, err := s.Get(ctx, "string"); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("Get of a string key: error = %v, want ErrCorrupt", err)
	}
	if _, err := s.CompareAndSwap(ctx, "string", 0, []byte("x")); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("CompareAndSwap over a string key: error = %v, want ErrCorrupt", err)
	}
	for name, fields := range map[string][]string{
		"bad-gen":  {"gen", "x1", "v", "value"},
		"zero-gen": {"gen", "0", "v", "value"},
		"no-gen":   {"v", "value"},
	} {
		record, _ := redis.Keys(s, name)
		rdb.HSet(ctx, record, fields)
		if _, _, err := s.GetVersioned(ctx, name); !errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("%s: GetVersioned error = %v, want ErrCorrupt", name, err)
		}
	}
	for _, name := range []string{"string", "bad-gen", "zero-gen", "no-gen"} {
		if err := s.Put(ctx, name, []byte("fresh")); err != nil {
			t.Errorf("%s: Put over a corrupt record = %v, want nil", name, err)
			continue
		}
		// The corrupt record's generation is lost; the new one must still
		// be beyond any a record reached one write at a time.
		if v, gen, err := s.GetVersioned(ctx, name); err != nil || !bytes.Equal(v, []byte("fresh")) || gen < 1e15 {
			t.Errorf("%s: GetVersioned after Put = %q, %d, %v; want %q at a generation beyond every earlier one (>= 1e15)", name, v, gen, err, "fresh")
		}
	}
}
