package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(lockChild())
	}
	code := m.Run()
	enginetest.StopAll()
	os.Exit(code)
}

// testWait bounds every wait in these tests; generous, never asserted on.
const testWait = 20 * time.Second

// newPool returns a pool on dsn with up to maxConns connections, closed at
// the end of the test.
func newPool(t testing.TB, dsn string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgxpool.ParseConfig: %v", err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgxpool.NewWithConfig: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// tableName returns a table name no other test (or earlier run against the
// same server) uses.
func tableName() string {
	return "tokenrefresh_test_" + strings.ToLower(rand.Text()[:12])
}

// newTestStore returns a store on its own table of the shared server (or
// the one CI names), with the given lease (0: default). The table is
// dropped at the end of the test.
func newTestStore(t testing.TB, lease time.Duration) (*Store, *pgxpool.Pool) {
	t.Helper()
	pool := newPool(t, enginetest.PostgresDSN(t), 8)
	return storeOn(t, pool, lease), pool
}

// storeOn creates a store on its own table of pool's database.
func storeOn(t testing.TB, pool *pgxpool.Pool, lease time.Duration) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	s, err := NewWithOptions(ctx, pool, &Options{Table: tableName(), LockLease: lease})
	if err != nil {
		t.Fatalf("NewWithOptions: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		_, _ = pool.Exec(ctx, "DROP TABLE IF EXISTS "+s.table)
	})
	return s
}

// The lock child is this test binary re-executed to hold a lock in another
// process, so that a test can kill or pause a real holder. Its settings
// come in childEnv as "dsn\ttable\tkey\tleaseMillis". It prints "locked"
// once it holds the lock, then reads commands on stdin: "unlock" unlocks
// and prints "unlock: ok" or "unlock: lost"; end of input exits.
const childEnv = "TOKENREFRESH_PG_LOCK_CHILD"

func lockChild() int {
	parts := strings.Split(os.Getenv(childEnv), "\t")
	if len(parts) != 4 {
		fmt.Fprintln(os.Stderr, "lock child: bad settings")
		return 2
	}
	ms, _ := strconv.Atoi(parts[3])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock child:", err)
		return 1
	}
	defer pool.Close()
	s, err := NewWithOptions(ctx, pool, &Options{Table: parts[1], LockLease: time.Duration(ms) * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock child:", err)
		return 1
	}
	unlock, err := s.Lock(ctx, parts[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock child:", err)
		return 1
	}
	fmt.Println("locked")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "unlock" {
			if err := unlock(); errors.Is(err, ErrLockLost) {
				fmt.Println("unlock: lost")
			} else if err != nil {
				fmt.Println("unlock:", err)
			} else {
				fmt.Println("unlock: ok")
			}
			return 0
		}
	}
	_ = unlock()
	return 0
}

// lockHolder is a running lock child.
type lockHolder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startLockHolder starts a child process that takes the lock for key on
// table and waits until it holds it. The child is killed at the end of the
// test.
func startLockHolder(t *testing.T, dsn, table, key string, lease time.Duration) *lockHolder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{dsn, table, key, strconv.FormatInt(lease.Milliseconds(), 10)}, "\t"))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start lock child: %v", err)
	}
	h := &lockHolder{cmd: cmd, stdin: stdin, lines: make(chan string, 4)}
	go func() {
		defer close(h.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	if got := h.readLine(t); got != "locked" {
		t.Fatalf("lock child said %q, want %q", got, "locked")
	}
	return h
}

// readLine returns the child's next line of output, bounded by testWait.
func (h *lockHolder) readLine(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			t.Fatal("lock child exited before answering")
		}
		return l
	case <-time.After(testWait):
		t.Fatalf("lock child did not answer within %v", testWait)
	}
	return ""
}
