package enginetest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgQuery connects to dsn, runs sql and returns the first column of the
// first row as text (or "" for statements without rows).
func pgQuery(ctx context.Context, dsn, sql string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var out string
	err = conn.QueryRow(ctx, sql).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return out, err
}

// TestStartPostgresSurvivesCrash proves a private server takes writes, keeps
// a committed row across an immediate shutdown and restart (crash
// recovery), and restarts on the same port.
func TestStartPostgresSurvivesCrash(t *testing.T) {
	s := StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dsn := s.DSN()
	for _, q := range []string{"CREATE TABLE t (v text)", "INSERT INTO t VALUES ('kept') RETURNING v"} {
		if _, err := pgQuery(ctx, dsn, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Crash(t)
	if _, err := pgQuery(ctx, dsn, "SELECT 1::text"); err == nil {
		t.Fatal("query after Crash succeeded, want a connection error")
	}
	s.Start(t)
	if got, err := pgQuery(ctx, dsn, "SELECT v FROM t"); err != nil || got != "kept" {
		t.Fatalf("after crash and start: SELECT v = %q, %v; want %q", got, err, "kept")
	}
	s.Restart(t)
	if s.DSN() != dsn {
		t.Fatalf("DSN changed across Restart: %q, was %q", s.DSN(), dsn)
	}
	if got, err := pgQuery(ctx, dsn, "SELECT count(*)::text FROM t"); err != nil || got != "1" {
		t.Fatalf("after Restart: count = %q, %v; want 1", got, err)
	}
}

// TestPostgresDSNShared proves the shared server answers, is the same for
// every caller, and is removed by its stop function.
func TestPostgresDSNShared(t *testing.T) {
	if os.Getenv(PostgresURLEnv) == "" {
		t.Cleanup(stopSharedPostgres)
	}
	a := PostgresDSN(t)
	b := PostgresDSN(t)
	if a != b {
		t.Fatalf("PostgresDSN returned %q then %q, want one shared server", a, b)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if got, err := pgQuery(ctx, a, "SELECT 'up'"); err != nil || got != "up" {
		t.Fatalf("query on the shared server = %q, %v", got, err)
	}
	if os.Getenv(PostgresURLEnv) != "" {
		return
	}
	sharedPostgres.mu.Lock()
	dir := sharedPostgres.srv.dir
	sharedPostgres.mu.Unlock()
	stopSharedPostgres()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after stop, the shared server's directory: Stat = %v, want it removed", err)
	}
	if _, err := pgQuery(ctx, a, "SELECT 'up'"); err == nil {
		t.Errorf("the shared server still answers after stop")
	}
}

// TestPostgresMissingBinaries proves the skip path: with the binaries
// hidden, postgresBinDir says so.
func TestPostgresMissingBinaries(t *testing.T) {
	t.Setenv(PostgresBinDirEnv, t.TempDir())
	if dir, err := postgresBinDir(); err == nil {
		t.Fatalf("postgresBinDir with an empty %s = %q, want an error", PostgresBinDirEnv, dir)
	}
}
