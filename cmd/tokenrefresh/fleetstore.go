package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/postgres"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// The fleet stores: one session shared by processes on many machines.
const (
	storePostgres = "postgres"
	storeRedis    = "redis"
)

// fleetStore reports whether mode names a fleet store.
func fleetStore(mode string) bool { return mode == storePostgres || mode == storeRedis }

// storeConnectTimeout bounds the connection to a fleet store's engine
// when its URL sets none.
const storeConnectTimeout = 10 * time.Second

// openFleetStore connects to the engine of a postgres or redis store.
// rawURL is --store-url, else the profile's URL (saved without its
// password), else empty: then the engine's usual environment says where
// (libpq's PGHOST, PGUSER, PGPASSWORD, PGDATABASE… or ~/.pgpass, which pgx
// reads; REDIS_URL). A Redis URL without a password takes REDISCLI_AUTH's,
// as redis-cli does. A Redis that can lose an acknowledged write is refused
// unless TOKENREFRESH_REDIS_ALLOW_UNSAFE=1. The connection is closed when
// the command ends.
func (e *env) openFleetStore(ctx context.Context, mode, rawURL string) (storage.Store, error) {
	switch mode {
	case storePostgres:
		cfg, err := pgxpool.ParseConfig(rawURL)
		if err != nil {
			// pgx's message may quote the URL, password included.
			return nil, usageErr("the postgres store's URL is not a postgres:// URL or a key=value connection string")
		}
		if cfg.ConnConfig.ConnectTimeout == 0 {
			cfg.ConnConfig.ConnectTimeout = storeConnectTimeout
		}
		cfg.MaxConns = max(cfg.MaxConns, 2)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("postgres store: %w", err)
		}
		st, err := postgres.New(ctx, pool)
		if err != nil {
			pool.Close()
			return nil, err
		}
		e.atExit(pool.Close)
		return st, nil
	case storeRedis:
		if rawURL == "" {
			rawURL = e.getenv("REDIS_URL")
		}
		if rawURL == "" {
			return nil, usageErr("the redis store needs --store-url redis://host:port or REDIS_URL")
		}
		opt, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, usageErr("the redis store's URL is not a redis:// or rediss:// URL")
		}
		if opt.Password == "" {
			opt.Password = e.getenv("REDISCLI_AUTH")
		}
		if opt.DialTimeout == 0 {
			opt.DialTimeout = storeConnectTimeout
		}
		opt.ContextTimeoutEnabled = true // --timeout and Ctrl-C end a call in flight
		quietRedis.Do(func() { goredis.SetLogger(silent{}) })
		rdb := goredis.NewClient(opt)
		st, err := redis.NewWithOptions(ctx, rdb, &redis.Options{
			// The operator's explicit choice to accept a server that can
			// lose an acknowledged write (see storage/redis).
			AllowUnsafePersistence: e.getenv("TOKENREFRESH_REDIS_ALLOW_UNSAFE") == "1",
		})
		if err != nil {
			_ = rdb.Close()
			return nil, err
		}
		e.atExit(func() { _ = rdb.Close() })
		return st, nil
	}
	return nil, fmt.Errorf("unknown store %q", mode)
}

// quietRedis keeps go-redis from printing its own connection-pool log
// lines on stderr: the command reports errors itself, once.
var quietRedis sync.Once

type silent struct{}

func (silent) Printf(context.Context, string, ...any) {}

// dsnPassword matches the password setting of a key=value connection
// string, quoted or not.
var dsnPassword = regexp.MustCompile(`(?i)(^|\s+)password\s*=\s*('(?:[^'\\]|\\.)*'|\S*)`)

// withoutPassword returns a store URL fit for the profile: the password
// (of a URL's user info, its query, or a key=value connection string)
// removed. Later commands take the password from the engine's environment
// (PGPASSWORD, ~/.pgpass, REDISCLI_AUTH) or from --store-url.
func withoutPassword(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return strings.TrimSpace(dsnPassword.ReplaceAllString(raw, ""))
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
			if u.User.Username() == "" {
				u.User = nil
			}
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// atExit registers fn to run when the command ends.
func (e *env) atExit(fn func()) {
	e.exitMu.Lock()
	defer e.exitMu.Unlock()
	e.exitFns = append(e.exitFns, fn)
}

// runAtExit runs the functions atExit registered, newest first.
func (e *env) runAtExit() {
	e.exitMu.Lock()
	fns := e.exitFns
	e.exitFns = nil
	e.exitMu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// errNoStoreURL: --store-url with a local store.
var errNoStoreURL = errors.New("--store-url is only for the postgres and redis stores")
