package redis

import (
	"context"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// shardWalker is implemented by the cluster and ring clients: every shard
// has its own settings.
type shardWalker interface {
	ForEachShard(ctx context.Context, fn func(ctx context.Context, client *goredis.Client) error) error
}

// check runs the durability check on every server behind s.rdb (just a
// PING when unsafe is allowed). It returns when ctx is done even if the
// client does not honour ctx (go-redis without ContextTimeoutEnabled
// waits for its own read timeouts): the abandoned call ends on its own.
func (s *Store) check(ctx context.Context, allowUnsafe bool) error {
	done := make(chan error, 1)
	go func() {
		if err := ctx.Err(); err != nil {
			done <- err
			return
		}
		if allowUnsafe {
			done <- s.rdb.Ping(ctx).Err()
			return
		}
		if w, ok := s.rdb.(shardWalker); ok {
			done <- w.ForEachShard(ctx, func(ctx context.Context, c *goredis.Client) error {
				return checkServer(ctx, c, c.Options().Addr)
			})
			return
		}
		done <- checkServer(ctx, s.rdb, "")
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	var unsafe *UnsafePersistenceError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unsafe):
		return err
	}
	return wrap(ctx, "connect", err)
}

// checkServer reads one server's persistence settings: with CONFIG GET,
// or, where CONFIG is disabled or denied (managed Redis), from INFO, which
// does not show appendfsync.
func checkServer(ctx context.Context, c goredis.Cmdable, addr string) error {
	settings := map[string]string{}
	var configErr error
	for _, name := range []string{"appendonly", "appendfsync", "maxmemory-policy"} {
		m, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			if !isRedisError(err) {
				return err
			}
			configErr = err
			break
		}
		settings[name] = strings.ToLower(m[name])
	}
	if configErr != nil {
		settings = map[string]string{}
		if err := readInfo(ctx, c, settings); err != nil {
			return err
		}
	}
	unsafe := func(setting, want string) error {
		e := &UnsafePersistenceError{Setting: setting, Value: settings[setting], Want: want, Addr: addr}
		if e.Value == "" {
			e.Err = configErr
			if e.Err == nil {
				e.Err = errors.New("not reported by the server")
			}
		}
		return e
	}
	if settings["appendonly"] != "yes" {
		return unsafe("appendonly", "yes")
	}
	if settings["appendfsync"] != "always" {
		return unsafe("appendfsync", "always")
	}
	switch p := settings["maxmemory-policy"]; {
	case p == "noeviction", strings.HasPrefix(p, "volatile-"):
	default:
		return unsafe("maxmemory-policy", "noeviction or volatile-*")
	}
	return nil
}

// readInfo fills settings from INFO persistence and INFO memory:
// aof_enabled becomes appendonly, maxmemory_policy maxmemory-policy.
// An INFO that is denied too leaves them empty (unverified).
func readInfo(ctx context.Context, c goredis.Cmdable, settings map[string]string) error {
	for _, section := range []string{"persistence", "memory"} {
		text, err := c.Info(ctx, section).Result()
		if err != nil {
			if isRedisError(err) {
				continue
			}
			return err
		}
		for line := range strings.SplitSeq(text, "\n") {
			name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
			switch name {
			case "aof_enabled":
				settings["appendonly"] = map[string]string{"1": "yes", "0": "no"}[value]
			case "maxmemory_policy":
				settings["maxmemory-policy"] = strings.ToLower(value)
			}
		}
	}
	return nil
}

// isRedisError reports whether err is an error reply from the server
// (unknown command, NOPERM...) rather than a failure to reach it.
func isRedisError(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && !errors.Is(err, goredis.Nil)
}
