//go:build unix

package filelock_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/filelock"
)

// TestRefusesSymlink plants the lock file as a symbolic link, to a missing
// file and to an existing one: Lock must fail saying why, create nothing
// and leave the target alone.
func TestRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "victim")
	if err := os.WriteFile(existing, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(existing, old, old); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{filepath.Join(dir, "created-by-lock"), existing} {
		path := filepath.Join(t.TempDir(), "x.lock")
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		var l filelock.Locker
		unlock, err := l.Lock(t.Context(), path)
		if err == nil {
			_ = unlock()
			t.Fatalf("Lock(symlink to %s) = nil error, want a refusal", target)
		}
		if !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), path) {
			t.Errorf("Lock(symlink) = %q, want an error naming %s as a symbolic link", err, path)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "created-by-lock")); !os.IsNotExist(err) {
		t.Errorf("target of a dangling lock symlink: Lstat = %v, want it never created", err)
	}
	fi, err := os.Stat(existing)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "precious" || !fi.ModTime().Equal(old) || fi.Mode().Perm() != 0o644 {
		t.Errorf("existing target changed: %q, mtime %v, mode %v", b, fi.ModTime(), fi.Mode())
	}
}
