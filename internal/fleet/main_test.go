package fleet

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/postgres"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// Environment variables that turn the test binary into a child process and
// configure it. The harness sets them on the child's command only.
const (
	envMode   = "FLEET_MODE"   // "worker", "holder" or "waiter"
	envEngine = "FLEET_ENGINE" // "postgres" or "redis"
	envURL    = "FLEET_URL"    // the engine's DSN or redis:// URL
	envNS     = "FLEET_NS"     // table (PostgreSQL) or key prefix (Redis)
	envLease  = "FLEET_LEASE"  // the store's LockLease; "0" means the default
	envAuth   = "FLEET_AUTH"   // the authorization server's base URL
	envPace   = "FLEET_PACE"   // a worker's pause between requests
)

// key names the one session the whole fleet shares.
const key = "batch@fleet"

func TestMain(m *testing.M) {
	if mode := os.Getenv(envMode); mode != "" {
		os.Exit(runChild(mode))
	}
	code := m.Run()
	enginetest.StopAll()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fleetStore is what both engines' stores implement.
type fleetStore interface {
	storage.Store
	storage.Locker
	storage.Versioned
}

// storeConfig says which store to open: the engine, its address, the
// namespace (table or key prefix) that isolates this test, and the lease.
type storeConfig struct {
	engine, url, ns string
	lease           time.Duration
}

// env returns c as child environment entries.
func (c storeConfig) env() []string {
	return []string{envEngine + "=" + c.engine, envURL + "=" + c.url, envNS + "=" + c.ns, envLease + "=" + c.lease.String()}
}

// configFromEnv reads a storeConfig from a child's environment.
func configFromEnv() (storeConfig, error) {
	lease, err := time.ParseDuration(os.Getenv(envLease))
	if err != nil {
		return storeConfig{}, err
	}
	return storeConfig{engine: os.Getenv(envEngine), url: os.Getenv(envURL), ns: os.Getenv(envNS), lease: lease}, nil
}

// open connects to the engine (a pool of its own: every process has its own
// connections) and returns the store and a function that closes the
// connections. It retries until ctx is done, so that a replacement worker
// started while the engine restarts waits for it.
func (c storeConfig) open(ctx context.Context) (fleetStore, func(), error) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		s, closeFn, err := c.openOnce(ctx)
		if err == nil {
			return s, closeFn, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("open %s store: %w", c.engine, err)
		case <-time.After(wait):
		}
	}
}

func (c storeConfig) openOnce(ctx context.Context) (fleetStore, func(), error) {
	switch c.engine {
	case "postgres":
		cfg, err := pgxpool.ParseConfig(c.url)
		if err != nil {
			return nil, nil, err
		}
		cfg.MaxConns = 4 // a held lock keeps one; writes and waiters use the others
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		s, err := postgres.NewWithOptions(ctx, pool, &postgres.Options{Table: c.ns, LockLease: c.lease})
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return s, pool.Close, nil
	case "redis":
		opt, err := goredis.ParseURL(c.url)
		if err != nil {
			return nil, nil, err
		}
		rdb := goredis.NewClient(opt)
		s, err := redis.NewWithOptions(ctx, rdb, &redis.Options{Prefix: c.ns, LockLease: c.lease})
		if err != nil {
			_ = rdb.Close()
			return nil, nil, err
		}
		return s, func() { _ = rdb.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown engine %q", c.engine)
}
