package postgres_test

import (
	"context"
	"errors"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/postgres"
)

// This example shows a store shared by a fleet and the refresh protocol a
// token source runs on it: lock, re-read, save with compare-and-set,
// unlock. It needs a database, so it is compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The URL comes from the environment; an empty string makes pgx use
	// libpq's PGHOST, PGUSER, PGPASSWORD, PGDATABASE...
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := postgres.NewWithOptions(ctx, pool, &postgres.Options{LockLease: 45 * time.Second})
	if err != nil {
		log.Fatal(err) // unreachable database, pool too small, no right to create the table...
	}

	const key = "batch@auth.example.com"
	unlock, err := store.Lock(ctx, key) // one refresh at a time, fleet-wide
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := unlock(); errors.Is(err, postgres.ErrLockLost) {
			log.Print("the lock lapsed during the refresh; the save was still fenced")
		}
	}()

	old, gen, err := store.GetVersioned(ctx, key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		log.Fatal(err)
	}
	newToken := append([]byte("refreshed from "), old...) // the real work: call the token endpoint
	if _, err := store.CompareAndSwap(ctx, key, gen, newToken); errors.Is(err, storage.ErrConflict) {
		log.Print("another worker saved a newer token first: adopt it")
	} else if err != nil {
		log.Fatal(err)
	}
}
