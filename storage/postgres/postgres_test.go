package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

// TestConformance runs the storage conformance suite (Store, Locker,
// Versioned) against a real PostgreSQL. Subtests use keys named after
// themselves, so they share one table.
func TestConformance(t *testing.T) {
	s, _ := newTestStore(t, 0)
	storagetest.Run(t, func(t *testing.T) storage.Store { return s })
}

// TestOptionsRejected proves invalid options are refused before any query.
func TestOptionsRejected(t *testing.T) {
	pool := newPool(t, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable", 4)
	for _, o := range []Options{
		{Table: "bad-name"},
		{Table: `x"; DROP TABLE y; --`},
		{Table: "1abc"},
		{Table: strings.Repeat("t", 64)},
		{LockLease: time.Millisecond},
		{LockLease: -time.Second},
	} {
		if _, err := NewWithOptions(t.Context(), pool, &o); err == nil || !strings.HasPrefix(err.Error(), "postgres: ") {
			t.Errorf("NewWithOptions(%+v) = %v, want an error prefixed \"postgres: \"", o, err)
		}
	}
}

// TestPoolTooSmall proves a pool of one connection is refused: the lock
// would hold it while writes wait for another.
func TestPoolTooSmall(t *testing.T) {
	pool := newPool(t, enginetest.PostgresDSN(t), 1)
	_, err := New(t.Context(), pool)
	if err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Fatalf("New(pool of 1) = %v, want an error saying the pool needs at least 2 connections", err)
	}
}

// TestUnreachable proves New fails (rather than hangs) when nothing listens,
// and that the error never shows the password of the DSN.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	const password = "s3cret-PASS"
	pool := newPool(t, "postgres://tokenuser:"+password+"@"+addr+"/tokens?sslmode=disable&connect_timeout=5", 4)
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()
	_, err = New(ctx, pool)
	if err == nil {
		t.Fatal("New against a closed port = nil error")
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "postgres: ") {
		t.Errorf("error = %q, want prefix \"postgres: \"", err)
	}
	t.Logf("unreachable: %v", err)
}

// TestSilentServer proves New is bounded by its context when the server
// accepts the connection but never answers.
func TestSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	t.Cleanup(func() { l.Close(); conns.Wait() })
	conns.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { // read and drop everything, never answer
				defer c.Close()
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
	})
	pool := newPool(t, "postgres://u:s3cret-PASS@"+l.Addr().String()+"/db?sslmode=disable", 4)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := New(ctx, pool)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("New against a silent server = %v, want error wrapping context.DeadlineExceeded", err)
		}
		if strings.Contains(err.Error(), "s3cret-PASS") {
			t.Errorf("error shows the password: %v", err)
		}
	case <-time.After(testWait):
		t.Fatalf("New did not return within %v of its deadline", testWait)
	}
	pool.Close() // before the listener's cleanup, so no connection is left open
}

// TestConcurrentNew proves many processes may create the table at once: 16
// pools (as 16 workers would have) call New on one fresh table name.
func TestConcurrentNew(t *testing.T) {
	dsn := enginetest.PostgresDSN(t)
	table := tableName()
	const workers = 16
	pools := make([]*pgxpool.Pool, workers)
	for i := range pools {
		pools[i] = newPool(t, dsn, 2)
	}
	t.Cleanup(func() { _, _ = pools[0].Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	stores := make([]*Store, workers)
	for i := range workers {
		wg.Go(func() { stores[i], errs[i] = NewWithOptions(ctx, pools[i], &Options{Table: table}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: New = %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	if err := stores[0].Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got, err := stores[workers-1].Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get through another worker's store = %q, %v; want %q", got, err, "v")
	}
}

// TestReadOnly proves writes to a read-only database wrap
// storage.ErrReadOnly (SQLSTATE 25006), while reads work.
func TestReadOnly(t *testing.T) {
	rw, _ := newTestStore(t, 0)
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()
	if err := rw.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(enginetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	ro, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	s, err := NewWithOptions(ctx, ro, &Options{Table: rw.name})
	if err != nil {
		t.Fatalf("New on a read-only database with an existing table = %v", err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v; want %q", got, err, "v")
	}
	_, gen, _ := s.GetVersioned(ctx, "k")
	writes := map[string]func() error{
		"Put":            func() error { return s.Put(ctx, "k", []byte("w")) },
		"Delete":         func() error { return s.Delete(ctx, "k") },
		"CompareAndSwap": func() error { _, err := s.CompareAndSwap(ctx, "k", gen, []byte("w")); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, storage.ErrReadOnly) {
			t.Errorf("%s on a read-only database = %v, want error wrapping storage.ErrReadOnly", name, err)
		}
	}
	// A missing table cannot be created there: New says so.
	if _, err := NewWithOptions(ctx, ro, &Options{Table: tableName()}); !errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("New creating a table on a read-only database = %v, want error wrapping storage.ErrReadOnly", err)
	}
}

// TestErrorsAreMapped checks the SQLSTATE mapping on a synthetic error.
func TestErrorsAreMapped(t *testing.T) {
	for code, want := range map[string]error{codeReadOnly: storage.ErrReadOnly, codeDiskFull: storage.ErrNoSpace} {
		err := wrap(context.Background(), "put", fmt.Errorf("exec: %w", pgError(code)))
		if !errors.Is(err, want) || !strings.HasPrefix(err.Error(), "postgres: put: ") {
			t.Errorf("wrap(SQLSTATE %s) = %v, want prefix and error wrapping %v", code, err, want)
		}
	}
}

// TestKeysAreBytes proves keys are kept byte for byte, including NUL and
// invalid UTF-8, which a text column could not hold.
func TestKeysAreBytes(t *testing.T) {
	s, _ := newTestStore(t, 0)
	ctx := t.Context()
	keys := []string{"a\x00b", "a\x00c", "\xff\xfe", "a"}
	for i, k := range keys {
		if err := s.Put(ctx, k, []byte{byte(i)}); err != nil {
			t.Fatalf("Put(%q) = %v", k, err)
		}
	}
	for i, k := range keys {
		if got, err := s.Get(ctx, k); err != nil || len(got) != 1 || got[0] != byte(i) {
			t.Errorf("Get(%q) = %v, %v; want [%d]", k, got, err, i)
		}
	}
}

func pgError(code string) error {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "synthetic"}
}
