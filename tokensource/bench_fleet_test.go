package tokensource

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/storage/memory"
	"github.com/tokenrefresh/tokenrefresh/storage/postgres"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// benchStores are the stores the per-store benchmarks compare: the local
// ones and the fleet stores on a throw-away PostgreSQL and Redis (skipped
// without them; see internal/enginetest).
var benchStores = []struct {
	name  string
	store func(b *testing.B) storage.Store
}{
	{"memory", func(*testing.B) storage.Store { return &memory.Store{} }},
	{"file", func(b *testing.B) storage.Store {
		fs, err := file.New(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		return fs
	}},
	{"postgres", func(b *testing.B) storage.Store {
		pool, err := pgxpool.New(b.Context(), enginetest.PostgresDSN(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		st, err := postgres.NewWithOptions(b.Context(), pool, &postgres.Options{Table: "tokenrefresh_bench"})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}},
	{"redis", func(b *testing.B) storage.Store {
		opt, err := goredis.ParseURL(enginetest.RedisURL(b))
		if err != nil {
			b.Fatal(err)
		}
		rdb := goredis.NewClient(opt)
		b.Cleanup(func() { rdb.Close() })
		st, err := redis.NewWithOptions(b.Context(), rdb, &redis.Options{Prefix: "tokenrefresh-bench:"})
		if err != nil {
			b.Fatal(err)
		}
		return st
	}},
}

// BenchmarkTokenPerStore measures Token on the hot path (a valid token in
// memory) with each store: the store is only touched when refreshing, so
// the figures must not differ.
func BenchmarkTokenPerStore(b *testing.B) {
	srv := benchTokenServer(b)
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			src, _ := benchSource(b, srv, st.store)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.Token(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSource returns a Source logged in to srv through a store made by
// mk, with nothing else under its key (a shared engine may hold an
// earlier run's session, of another server), and its token.
func benchSource(b *testing.B, srv *httptest.Server, mk func(b *testing.B) storage.Store) (*Source, *Token) {
	st := mk(b)
	if err := st.Delete(b.Context(), "bench"); err != nil {
		b.Fatal(err)
	}
	src := &Source{Grant: &PasswordGrant{TokenURL: srv.URL + "/token", ClientID: "cli", Username: "u", Password: "p"},
		Store: st, Key: "bench"}
	b.Cleanup(func() { src.Close(context.Background()) })
	tok, err := src.Token(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	return src, tok
}
