package redis_test

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

func TestMain(m *testing.M) {
	// go-redis logs refused dials through a package-level logger; the
	// fault tests provoke them on purpose.
	goredis.SetLogger(quiet{})
	code := m.Run()
	enginetest.StopAll()
	os.Exit(code)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// wait bounds every wait in these tests; generous on purpose, never an
// assertion about durations.
const wait = 30 * time.Second

// newClient returns a client for url, closed at the end of the test.
func newClient(tb testing.TB, url string) *goredis.Client {
	tb.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		tb.Fatalf("ParseURL: %v", err)
	}
	c := goredis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// uniquePrefix isolates a test's keys on a shared server.
func uniquePrefix() string { return "tokenrefresh-test:" + rand.Text()[:12] + ":" }

// newStore returns a store on rdb with opts (a unique Prefix when empty),
// or fails tb.
func newStore(tb testing.TB, rdb goredis.UniversalClient, opts redis.Options) *redis.Store {
	tb.Helper()
	if opts.Prefix == "" {
		opts.Prefix = uniquePrefix()
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := redis.NewWithOptions(ctx, rdb, &opts)
	if err != nil {
		tb.Fatalf("NewWithOptions = %v", err)
	}
	return s
}

// ctxWait returns a context bounded by wait, cancelled at the end of the test.
func ctxWait(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	tb.Cleanup(cancel)
	return ctx
}
