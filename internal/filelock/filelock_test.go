package filelock_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/internal/filelock"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

// helperEnv names the lock file a re-executed test binary should hold.
const helperEnv = "FILELOCK_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(holdLock(path))
	}
	goleak.VerifyTestMain(m)
}

// holdLock is the child process: it takes the lock, says so on stdout and
// keeps it until stdin is closed.
func holdLock(path string) int {
	var l filelock.Locker
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock, err := l.Lock(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := unlock(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// dirLocker adapts a Locker to storage.Locker with one lock file per key.
type dirLocker struct {
	dir string
	l   *filelock.Locker
}

func (d dirLocker) Lock(ctx context.Context, key string) (func() error, error) {
	sum := sha256.Sum256([]byte(key))
	return d.l.Lock(ctx, filepath.Join(d.dir, hex.EncodeToString(sum[:])+".lock"))
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.RunLocker(t, func(t *testing.T) storage.Locker {
		return dirLocker{dir: t.TempDir(), l: new(filelock.Locker)}
	})
}

func TestLockFileKeptAndPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	var l filelock.Locker
	unlock, err := l.Lock(t.Context(), path)
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock = %v", err)
	}
	if err := unlock(); !errors.Is(err, filelock.ErrUnlocked) {
		t.Errorf("second unlock = %v, want ErrUnlocked", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("lock file after unlock: %v (it must never be deleted)", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("lock file mode = %v, want no group/other bits", perm)
	}
}

// TestTwoLockersInOneProcess checks that the OS lock, not only the
// in-process semaphore, excludes: two Lockers share no semaphore.
func TestTwoLockersInOneProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	var a, b filelock.Locker
	unlock, err := a.Lock(t.Context(), path)
	if err != nil {
		t.Fatalf("a.Lock = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if u, err := b.Lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			_ = u()
		}
		t.Fatalf("b.Lock while a holds = %v, want context.DeadlineExceeded", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock = %v", err)
	}
	u, err := b.Lock(t.Context(), path)
	if err != nil {
		t.Fatalf("b.Lock after a released = %v", err)
	}
	_ = u()
}

func TestOtherProcessExcludes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path,
		// Under -race a binary exiting 0 first sleeps GORACE's
		// atexit_sleep_ms, 1 s by default; the child need not.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v; want \"locked\"", line, err)
	}

	var l filelock.Locker
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if u, err := l.Lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			_ = u()
		}
		t.Fatalf("Lock while another process holds it = %v, want context.DeadlineExceeded", err)
	}

	_ = stdin.Close() // the child unlocks and exits
	ctx2, cancel2 := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel2()
	unlock, err := l.Lock(ctx2, path)
	if err != nil {
		t.Fatalf("Lock after the other process released = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("unlock = %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v", err)
	}
}
