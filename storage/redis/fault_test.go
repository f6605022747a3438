package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// TestCrashKeepsAcknowledgedWrites proves that with the settings New
// requires, a SIGKILL of redis-server loses no acknowledged write: the
// value and generation come back after the append-only file is replayed.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	srv := enginetest.StartRedis(t, enginetest.RedisConfig{})
	rdb := newClient(t, srv.URL())
	s := newStore(t, rdb, redis.Options{})
	ctx := ctxWait(t)
	var gen int64
	for i := range 5 {
		next, err := s.CompareAndSwap(ctx, "k", gen, fmt.Appendf(nil, "rotation %d", i))
		if err != nil {
			t.Fatal(err)
		}
		gen = next
	}
	if err := s.Put(ctx, "other", []byte("seeded")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	_, tombstone, _ := s.GetVersioned(ctx, "other")

	srv.Kill(t)
	if _, err := s.Get(ctx, "k"); err == nil || !strings.HasPrefix(err.Error(), "redis: ") {
		t.Errorf("Get while Redis is down = %v, want a redis: error", err)
	}
	srv.Start(t)

	v, got, err := s.GetVersioned(ctx, "k")
	if err != nil || string(v) != "rotation 4" || got != gen {
		t.Fatalf("after SIGKILL and restart: GetVersioned = %q, %d, %v; want %q, %d", v, got, err, "rotation 4", gen)
	}
	if _, got, err := s.GetVersioned(ctx, "other"); !errors.Is(err, storage.ErrNotFound) || got != tombstone || got == 0 {
		t.Fatalf("tombstone after restart: generation %d, %v; want %d, ErrNotFound", got, err, tombstone)
	}
	if _, err := s.CompareAndSwap(ctx, "k", gen, []byte("after")); err != nil {
		t.Fatalf("CompareAndSwap after restart = %v", err)
	}
}

// closedPort returns a loopback port nothing listens on (a moment ago).
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// TestUnreachable proves New fails, within its context, when Redis does not
// answer, and that no error shows the password of the URL.
func TestUnreachable(t *testing.T) {
	const password = "s3cret-PASS"
	url := fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", password, closedPort(t))
	for _, allowUnsafe := range []bool{false, true} {
		rdb := newClient(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		done := make(chan error, 1)
		go func() {
			_, err := redis.NewWithOptions(ctx, rdb, &redis.Options{AllowUnsafePersistence: allowUnsafe})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("New on a closed port (allowUnsafe=%v) = nil error", allowUnsafe)
			}
			if !strings.HasPrefix(err.Error(), "redis: ") || errors.Is(err, redis.ErrUnsafePersistence) {
				t.Errorf("New on a closed port = %v, want a redis: connection error", err)
			}
			if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), password) {
				t.Errorf("error shows the password: %v", err)
			}
		case <-time.After(wait):
			t.Fatalf("New on a closed port did not return within %v (its context: 2s)", wait)
		}
		cancel()
	}
}

// TestUnansweredNewIsBoundedByContext proves New returns when its context
// ends even if the server accepts connections but never answers (a hung
// or paused Redis), whatever the client's own timeouts.
func TestUnansweredNewIsBoundedByContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accept and stay silent
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	rdb := goredis.NewClient(&goredis.Options{Addr: l.Addr().String(), ReadTimeout: time.Minute})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := redis.New(ctx, rdb)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("New against a silent server = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(wait):
		t.Fatalf("New against a silent server did not return within %v", wait)
	}
}

// TestEngineConditions proves Redis refusals map to the storage sentinels:
// a read-only replica to ErrReadOnly, out of memory to ErrNoSpace.
func TestEngineConditions(t *testing.T) {
	srv := enginetest.StartRedis(t, enginetest.RedisConfig{})
	rdb := newClient(t, srv.URL())
	s := newStore(t, rdb, redis.Options{})
	ctx := ctxWait(t)
	if err := s.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	if err := rdb.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", []byte("v2")); !errors.Is(err, storage.ErrNoSpace) {
		t.Errorf("Put over maxmemory = %v, want ErrNoSpace", err)
	}
	if _, err := s.CompareAndSwap(ctx, "new", 0, []byte("v")); !errors.Is(err, storage.ErrNoSpace) {
		t.Errorf("CompareAndSwap over maxmemory = %v, want ErrNoSpace", err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}

	// A replica of a master that is not there: reads work, writes are refused.
	if err := rdb.Do(ctx, "REPLICAOF", "127.0.0.1", closedPort(t)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", []byte("v3")); !errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("Put on a read-only replica = %v, want ErrReadOnly", err)
	}
	if _, err := s.Lock(ctx, "k"); !errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("Lock on a read-only replica = %v, want ErrReadOnly", err)
	}
	if v, err := s.Get(ctx, "k"); err != nil || string(v) != "v" {
		t.Errorf("Get on a read-only replica = %q, %v; want %q", v, err, "v")
	}
}
