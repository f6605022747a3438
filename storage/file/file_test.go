package file_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newStore(t *testing.T) *file.Store {
	t.Helper()
	s, err := file.New(filepath.Join(t.TempDir(), "tokens"))
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

func TestModes(t *testing.T) {
	s := newStore(t)
	if err := s.Put(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %#o, want 0700", got)
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s mode = %#o, want 0600", e.Name(), got)
		}
		if strings.Contains(e.Name(), "k") && len(e.Name()) < 10 {
			t.Errorf("file name %q looks like the raw key; want a hash", e.Name())
		}
	}
	if len(names) != 2 || !strings.HasSuffix(names[0], ".json") || !strings.HasSuffix(names[1], ".lock") {
		t.Errorf("directory holds %q, want one .json data file and one .lock file", names)
	}
	if got, want := s.Path("k"), filepath.Join(s.Dir(), names[0]); got != want {
		t.Errorf("Path(k) = %q, want %q", got, want)
	}
}

func TestRefusesFileOthersCanRead(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o606} {
		s := newStore(t)
		if err := s.Put(t.Context(), "k", []byte("secret")); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(s.Path("k"), mode); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(t.Context(), "k")
		var pe *file.PermissionError
		if !errors.As(err, &pe) {
			t.Fatalf("Get of a %#o file = %v, want *file.PermissionError", mode, err)
		}
		if pe.Path != s.Path("k") || pe.Mode.Perm() != mode {
			t.Errorf("PermissionError = {%q, %v}, want {%q, %v}", pe.Path, pe.Mode, s.Path("k"), mode)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q contains the stored value", err)
		}
	}
}

func TestRefusesDirOthersCanWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := file.New(dir)
	var pe *file.PermissionError
	if !errors.As(err, &pe) || pe.Path != dir {
		t.Fatalf("New(world-writable dir) = %v, want *file.PermissionError for %s", err, dir)
	}
}

func TestNewRejects(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", notDir} {
		if s, err := file.New(dir); err == nil {
			t.Errorf("New(%q) = %v, nil; want an error", dir, s.Dir())
		}
	}
}

// TestFailedPutLeavesNoTempFile makes the rename fail (the target is a
// directory) and checks the temporary file is gone and the error reported.
func TestFailedPutLeavesNoTempFile(t *testing.T) {
	s := newStore(t)
	if err := os.MkdirAll(filepath.Join(s.Path("k"), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "k", []byte("v")); err == nil {
		t.Fatal("Put over a directory = nil, want an error")
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestTwoStoresShareLock checks that the lock lives in the directory, not in
// the Store value: a second Store on the same directory waits.
func TestTwoStoresShareLock(t *testing.T) {
	a := newStore(t)
	b, err := file.New(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := a.Lock(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if u, err := b.Lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			_ = u()
		}
		t.Fatalf("second Store's Lock while held = %v, want context.DeadlineExceeded", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	u, err := b.Lock(t.Context(), "k")
	if err != nil {
		t.Fatalf("Lock after release = %v", err)
	}
	_ = u()
}

// BenchmarkPut measures one durable write (temp file, fsync, rename, dir
// fsync) of a token-sized value.
func BenchmarkPut(b *testing.B) {
	s, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	v := []byte(strings.Repeat("t", 2000))
	for b.Loop() {
		if err := s.Put(b.Context(), "k", v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Put(b.Context(), "k", []byte(strings.Repeat("t", 2000))); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Get(b.Context(), "k"); err != nil {
			b.Fatal(err)
		}
	}
}
