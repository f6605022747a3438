package file_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

// tempFiles returns the temporary files of key in s's directory.
func tempFiles(t *testing.T, s *file.Store, key string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(s.Dir(), "."+filepath.Base(s.Path(key))+".tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReserveHoldsSpace(t *testing.T) {
	s := newStore(t)
	const size = 5000
	res, err := s.Reserve(t.Context(), "k", size)
	if err != nil {
		t.Fatalf("Reserve = %v", err)
	}
	tmps := tempFiles(t, s, "k")
	if len(tmps) != 1 {
		t.Fatalf("temporary files after Reserve = %q, want one", tmps)
	}
	fi, err := os.Stat(tmps[0])
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("reserved file mode = %v, want 0600", fi.Mode())
	}
	// The base64 of the value alone takes 4/3 of its size.
	if fi.Size() < size*4/3+100 || fi.Size()%4096 != 0 {
		t.Errorf("reserved file size = %d, want whole 4 KiB blocks above %d", fi.Size(), size*4/3+100)
	}
	value := []byte(strings.Repeat("v", size))
	if err := res.Commit(t.Context(), value); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	if tmps := tempFiles(t, s, "k"); len(tmps) != 0 {
		t.Errorf("temporary files after Commit = %q, want none", tmps)
	}
	reserved := fi.Size()
	if fi, err = os.Stat(s.Path("k")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("data file after Commit: %v, %v; want mode 0600", fi, err)
	}
	if b := mustRead(t, s.Path("k")); int64(len(b)) >= reserved || b[len(b)-1] != '\n' {
		t.Errorf("data file after Commit has %d bytes ending %q, want the envelope alone (under the %d reserved)",
			len(b), b[len(b)-1], reserved)
	}
	if got, err := s.Get(t.Context(), "k"); err != nil || string(got) != string(value) {
		t.Errorf("Get after Commit = %d bytes, %v; want the committed %d bytes", len(got), err, size)
	}
}

// TestReserveFitsEveryEnvelope commits the largest value a reservation is
// for, under a key whose JSON escaping is as long as it gets, and checks
// the envelope did not outgrow the preallocated file.
func TestReserveFitsEveryEnvelope(t *testing.T) {
	s := newStore(t)
	key := strings.Repeat("\x00<>&\xff", 200)
	for _, size := range []int{0, 1, 100, 3071, 3072, 100 << 10} {
		res, err := s.Reserve(t.Context(), key, size)
		if err != nil {
			t.Fatalf("Reserve(%d) = %v", size, err)
		}
		fi, err := os.Stat(tempFiles(t, s, key)[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Commit(t.Context(), make([]byte, size)); err != nil {
			t.Fatalf("Commit = %v", err)
		}
		got, err := os.Stat(s.Path(key))
		if err != nil {
			t.Fatal(err)
		}
		if got.Size() > fi.Size() {
			t.Errorf("size %d: envelope of %d bytes outgrew the %d reserved", size, got.Size(), fi.Size())
		}
	}
}

func TestReleaseRemovesTempFile(t *testing.T) {
	s := newStore(t)
	res, err := s.Reserve(t.Context(), "k", 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Release(); err != nil {
		t.Fatalf("Release = %v", err)
	}
	if tmps := tempFiles(t, s, "k"); len(tmps) != 0 {
		t.Errorf("temporary files after Release = %q, want none", tmps)
	}
	if err := res.Release(); err != nil {
		t.Errorf("second Release = %v, want nil", err)
	}
}

// TestCommitIgnoresDoneContext: abandoning a commit would lose a rotated
// refresh token that exists nowhere else, so a done ctx does not stop it.
func TestCommitIgnoresDoneContext(t *testing.T) {
	s := newStore(t)
	res, err := s.Reserve(t.Context(), "k", 100)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := res.Commit(ctx, []byte("new")); err != nil {
		t.Fatalf("Commit(cancelled ctx) = %v, want nil", err)
	}
	if got, err := s.Get(t.Context(), "k"); err != nil || string(got) != "new" {
		t.Errorf("Get = %q, %v; want %q", got, err, "new")
	}
}

func TestReserveRejectsBadSize(t *testing.T) {
	s := newStore(t)
	for _, size := range []int{-1, 64 << 20, 1 << 62} {
		if res, err := s.Reserve(t.Context(), "k", size); err == nil {
			_ = res.Release()
			t.Errorf("Reserve(size %d) = nil error, want one", size)
		} else if !strings.HasPrefix(err.Error(), "file: reserve: ") {
			t.Errorf("Reserve(size %d) = %q, want a \"file: reserve: \" message", size, err)
		}
	}
	if tmps := tempFiles(t, s, "k"); len(tmps) != 0 {
		t.Errorf("temporary files after refused Reserves = %q, want none", tmps)
	}
}

// TestSecondCommitError checks the message of a misuse.
func TestSecondCommitError(t *testing.T) {
	s := newStore(t)
	res, err := s.Reserve(t.Context(), "k", 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Commit(t.Context(), []byte("a")); err != nil {
		t.Fatal(err)
	}
	err = res.Commit(t.Context(), []byte("b"))
	if err == nil || !strings.HasPrefix(err.Error(), "file: commit: ") || errors.Unwrap(err) == nil {
		t.Fatalf("second Commit = %v, want a wrapped \"file: commit: \" error", err)
	}
}
