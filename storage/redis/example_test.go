package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/redis"
)

// This example needs a Redis server configured as the package
// documentation says (REDIS_URL, e.g. redis://127.0.0.1:6379/0), so it is
// compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts, err := goredis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true // every call honours its ctx deadline
	rdb := goredis.NewClient(opts)
	defer rdb.Close()

	store, err := redis.New(ctx, rdb)
	if errors.Is(err, redis.ErrUnsafePersistence) {
		log.Fatal(err) // names the setting to fix, e.g. appendfsync
	}
	if err != nil {
		log.Fatal(err)
	}

	// A refresh: lock, re-read, compare-and-set from the generation read.
	unlock, err := store.Lock(ctx, "batch@auth.example.com")
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := unlock(); errors.Is(err, redis.ErrLockLost) {
			log.Print("the lease ran out while refreshing; the generation check still fenced our writes")
		}
	}()
	_, gen, err := store.GetVersioned(ctx, "batch@auth.example.com")
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		log.Fatal(err)
	}
	_, err = store.CompareAndSwap(ctx, "batch@auth.example.com", gen, []byte(`{"refresh_token":"..."}`))
	switch {
	case errors.Is(err, storage.ErrConflict):
		fmt.Println("someone else saved first: re-read and adopt their token")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("saved")
	}
}
