package enginetest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

func redisClient(t *testing.T, url string) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStartRedisDefaults(t *testing.T) {
	s := StartRedis(t, RedisConfig{})
	c := redisClient(t, s.URL())
	ctx, cancel := context.WithTimeout(t.Context(), redisWait)
	defer cancel()
	for name, want := range map[string]string{"appendonly": "yes", "appendfsync": "always", "maxmemory-policy": "noeviction", "bind": "127.0.0.1"} {
		got, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got[name] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", name, got[name], want)
		}
	}
}

func TestStartRedisConfig(t *testing.T) {
	s := StartRedis(t, RedisConfig{AppendOnly: "no", AppendFsync: "everysec", MaxMemoryPolicy: "allkeys-lru"})
	c := redisClient(t, s.URL())
	ctx, cancel := context.WithTimeout(t.Context(), redisWait)
	defer cancel()
	for name, want := range map[string]string{"appendonly": "no", "appendfsync": "everysec", "maxmemory-policy": "allkeys-lru"} {
		got, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got[name] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", name, got[name], want)
		}
	}
}

func TestStartRedisDisableConfig(t *testing.T) {
	s := StartRedis(t, RedisConfig{DisableConfig: true})
	c := redisClient(t, s.URL())
	ctx, cancel := context.WithTimeout(t.Context(), redisWait)
	defer cancel()
	if _, err := c.ConfigGet(ctx, "appendonly").Result(); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("CONFIG GET with CONFIG disabled: error = %v, want unknown command", err)
	}
	info, err := c.Info(ctx, "persistence").Result()
	if err != nil || !strings.Contains(info, "aof_enabled:1") {
		t.Errorf("INFO persistence = %v; want aof_enabled:1", err)
	}
}

// TestRedisKillStart proves Kill is a crash the append-only file survives
// and Start comes back on the same address.
func TestRedisKillStart(t *testing.T) {
	s := StartRedis(t, RedisConfig{})
	c := redisClient(t, s.URL())
	ctx, cancel := context.WithTimeout(t.Context(), redisWait)
	defer cancel()
	if err := c.Set(ctx, "k", "before the crash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill(t)
	if err := s.ping(ctx); err == nil {
		t.Fatal("PING answered after Kill")
	}
	s.Start(t)
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "before the crash" {
		t.Fatalf("GET after restart = %q, %v; want %q", got, err, "before the crash")
	}
	s.Restart(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart = %v", err)
	}
}

// TestRedisCleanupRemovesDir proves a server's cleanup stops it and removes
// its directory.
func TestRedisCleanupRemovesDir(t *testing.T) {
	var s *RedisServer
	t.Run("inner", func(t *testing.T) { s = StartRedis(t, RedisConfig{}) })
	if s == nil {
		t.Skip("inner test skipped")
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("directory %s after cleanup: %v, want it removed", s.dir, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), redisWait)
	defer cancel()
	if err := s.ping(ctx); err == nil {
		t.Error("PING answered after cleanup")
	}
}

func TestRedisURLShared(t *testing.T) {
	t.Cleanup(StopAllRedis)
	u1, u2 := RedisURL(t), RedisURL(t)
	if u1 != u2 {
		t.Errorf("RedisURL returned %q then %q, want one shared server", u1, u2)
	}
	ctx, cancel := context.WithTimeout(t.Context(), redisWait)
	defer cancel()
	if err := redisClient(t, u1).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING %s: %v", u1, err)
	}
}

// recordingTB records a Skip or Fatal and ends the goroutine, as testing
// does, so the skip and require paths can be checked.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skipf(format string, args ...any) {
	r.skipped = format
	runtime.Goexit()
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = format
	runtime.Goexit()
}

func runTB(r *recordingTB, fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
}

func TestRedisMissingSkipsOrFails(t *testing.T) {
	StopAllRedis() // RedisURL would return a running shared server
	t.Setenv(RedisURLEnv, "")
	t.Setenv(RedisServerEnv, filepath.Join(t.TempDir(), "no-redis-server"))
	for _, tc := range []struct{ require, wantSkip, wantFail bool }{{false, true, false}, {true, false, true}} {
		if tc.require {
			t.Setenv(RedisRequireEnv, "require")
		} else {
			t.Setenv(RedisRequireEnv, "")
		}
		for name, fn := range map[string]func(testing.TB){
			"StartRedis": func(tb testing.TB) { StartRedis(tb, RedisConfig{}) },
			"RedisURL":   func(tb testing.TB) { RedisURL(tb) },
		} {
			r := &recordingTB{TB: t}
			runTB(r, fn)
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") != tc.wantFail {
				t.Errorf("%s with require=%v: skipped %q, failed %q", name, tc.require, r.skipped, r.failed)
			}
		}
	}
}
