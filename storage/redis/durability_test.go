package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// TestDurabilityCheck starts a private server per configuration and checks
// which ones New accepts, and that a refusal names the setting.
func TestDurabilityCheck(t *testing.T) {
	tests := []struct {
		name        string
		cfg         enginetest.RedisConfig
		allowUnsafe bool
		setting     string // "" when New must accept
		value       string
		unverified  bool
	}{
		{name: "required settings", cfg: enginetest.RedisConfig{}},
		{name: "appendonly no", cfg: enginetest.RedisConfig{AppendOnly: "no"}, setting: "appendonly", value: "no"},
		{name: "appendfsync everysec", cfg: enginetest.RedisConfig{AppendFsync: "everysec"}, setting: "appendfsync", value: "everysec"},
		{name: "appendfsync no", cfg: enginetest.RedisConfig{AppendFsync: "no"}, setting: "appendfsync", value: "no"},
		{name: "allkeys-lru", cfg: enginetest.RedisConfig{MaxMemoryPolicy: "allkeys-lru"}, setting: "maxmemory-policy", value: "allkeys-lru"},
		{name: "volatile-lru", cfg: enginetest.RedisConfig{MaxMemoryPolicy: "volatile-lru"}},
		{name: "CONFIG disabled", cfg: enginetest.RedisConfig{DisableConfig: true}, setting: "appendfsync", unverified: true},
		{name: "CONFIG disabled, no AOF (seen in INFO)", cfg: enginetest.RedisConfig{DisableConfig: true, AppendOnly: "no"}, setting: "appendonly", value: "no"},
		{name: "CONFIG disabled, allkeys-lru", cfg: enginetest.RedisConfig{DisableConfig: true, AppendFsync: "everysec", MaxMemoryPolicy: "allkeys-lru"}, setting: "appendfsync", unverified: true},
		{name: "CONFIG disabled, override", cfg: enginetest.RedisConfig{DisableConfig: true}, allowUnsafe: true},
		{name: "appendonly no, override", cfg: enginetest.RedisConfig{AppendOnly: "no", MaxMemoryPolicy: "allkeys-lru"}, allowUnsafe: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := enginetest.StartRedis(t, tt.cfg)
			rdb := newClient(t, srv.URL())
			s, err := redis.NewWithOptions(ctxWait(t), rdb, &redis.Options{AllowUnsafePersistence: tt.allowUnsafe})
			if tt.setting == "" {
				if err != nil || s == nil {
					t.Fatalf("NewWithOptions = %v, want a store", err)
				}
				// The store works.
				if err := s.Put(ctxWait(t), "k", []byte("v")); err != nil {
					t.Fatalf("Put = %v", err)
				}
				return
			}
			var ue *redis.UnsafePersistenceError
			if !errors.As(err, &ue) || !errors.Is(err, redis.ErrUnsafePersistence) || s != nil {
				t.Fatalf("NewWithOptions = %v, %v; want a nil store and an *UnsafePersistenceError", s, err)
			}
			if ue.Setting != tt.setting || ue.Value != tt.value {
				t.Errorf("error names %s=%q, want %s=%q", ue.Setting, ue.Value, tt.setting, tt.value)
			}
			msg := err.Error()
			for _, want := range []string{"redis: ", tt.setting, "AllowUnsafePersistence"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if got := strings.Contains(msg, "could not be verified"); got != tt.unverified {
				t.Errorf("error %q: says it could not verify = %v, want %v", msg, got, tt.unverified)
			}
		})
	}
}

func TestUnsafePersistenceErrorText(t *testing.T) {
	err := &redis.UnsafePersistenceError{Setting: "appendfsync", Value: "everysec", Want: "always"}
	want := `redis: appendfsync is "everysec", want "always" (an acknowledged write can be lost on a crash; set Options.AllowUnsafePersistence to accept that)`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %s\nwant      %s", got, want)
	}
	unverified := &redis.UnsafePersistenceError{Setting: "appendfsync", Want: "always", Err: errors.New("ERR unknown command 'CONFIG'")}
	want = `redis: appendfsync could not be verified (ERR unknown command 'CONFIG'), want "always" (an acknowledged write can be lost on a crash; set Options.AllowUnsafePersistence to accept that)`
	if got := unverified.Error(); got != want {
		t.Errorf("Error() = %s\nwant      %s", got, want)
	}
}

// TestOptionsValidation proves bad options are refused before Redis is
// contacted.
func TestOptionsValidation(t *testing.T) {
	rdb := newClient(t, "redis://127.0.0.1:1/0") // never dialled
	for name, opts := range map[string]*redis.Options{
		"brace in prefix": {Prefix: "app{x}:"},
		"tiny lease":      {LockLease: 1},
		"negative lease":  {LockLease: -1},
	} {
		if _, err := redis.NewWithOptions(context.Background(), rdb, opts); err == nil || !strings.HasPrefix(err.Error(), "redis: Options.") {
			t.Errorf("%s: NewWithOptions = %v, want an error about Options", name, err)
		}
	}
	if _, err := redis.New(context.Background(), nil); err == nil {
		t.Error("New(nil client) = nil error")
	}
}
