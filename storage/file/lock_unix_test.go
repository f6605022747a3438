//go:build unix

package file_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

// TestLockKeepsLiveReservation: a writer that reserved without the lock
// (another Store in this process stands for another process) keeps its
// temporary file, because it holds an flock on it.
func TestLockKeepsLiveReservation(t *testing.T) {
	a := newStore(t)
	b, err := file.New(a.Dir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Reserve(t.Context(), "k", 100)
	if err != nil {
		t.Fatal(err)
	}
	before := tempFiles(t, a, "k")
	unlock, err := a.Lock(t.Context(), "k")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if after := tempFiles(t, a, "k"); !slices.Equal(after, before) || len(after) != 1 {
		t.Fatalf("temporary files: %q before Lock, %q after; want the live reservation kept", before, after)
	}
	if err := res.Commit(t.Context(), []byte("v")); err != nil {
		t.Fatalf("Commit after another Store's Lock = %v", err)
	}
}

// TestLeftoverSymlinkNotFollowed: a leftover name that is a symbolic
// link is not a regular file and is left alone, and its target untouched.
func TestLeftoverSymlinkNotFollowed(t *testing.T) {
	s := newStore(t)
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(s.Dir(), "."+filepath.Base(s.Path("k"))+".tmp-link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	_ = unlock()
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep" {
		t.Errorf("symlink target after Lock = %q, %v; want it untouched", b, err)
	}
}
