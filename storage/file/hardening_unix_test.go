//go:build unix

package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

func TestRefusesDirOfOtherUser(t *testing.T) {
	dir, owner := "/", 0
	if os.Geteuid() == 0 {
		// Root can make a directory another user owns; mode 0700 is fine.
		dir, owner = filepath.Join(t.TempDir(), "theirs"), 65534
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	_, err := file.New(dir)
	var pe *file.PermissionError
	if !errors.As(err, &pe) || !pe.OtherOwner || pe.Owner != owner || pe.Path != dir {
		t.Fatalf("New(dir of uid %d) = %v, want *file.PermissionError{OtherOwner: true, Owner: %d}", owner, err, owner)
	}
	if !strings.Contains(err.Error(), "belongs to another user") {
		t.Errorf("message %q does not say another user owns the directory", err)
	}
}

// TestDirModes documents the choice: group- or world-writable directories
// are refused; readable or searchable ones (0755, 0711) are accepted, since
// token files are 0600 and named by hashes, and refusing them would break
// directories users already have.
func TestDirModes(t *testing.T) {
	tests := []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o700, true}, {0o750, true}, {0o755, true}, {0o711, true}, {0o500, true},
		{0o770, false}, {0o720, false}, {0o702, false}, {0o1777, false},
	}
	for _, tt := range tests {
		dir := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tt.mode); err != nil {
			t.Fatal(err)
		}
		_, err := file.New(dir)
		var pe *file.PermissionError
		switch {
		case tt.ok && err != nil:
			t.Errorf("New(%#o dir) = %v, want nil", tt.mode, err)
		case !tt.ok && (!errors.As(err, &pe) || pe.OtherOwner):
			t.Errorf("New(%#o dir) = %v, want *file.PermissionError about its mode", tt.mode, err)
		}
	}
}

// TestGetRefusesSymlink plants the data file as a symbolic link to a valid
// token file elsewhere: Get must not read it, Put must replace the link
// (not write through it) and Delete must remove the link only.
func TestGetRefusesSymlink(t *testing.T) {
	s := newStore(t)
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	golden := mustRead(t, filepath.Join("testdata", "v1.json"))
	if err := os.WriteFile(target, golden, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, s.Path(goldenKey)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(t.Context(), goldenKey)
	var ce *file.CorruptError
	if !errors.As(err, &ce) || ce.Path != s.Path(goldenKey) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Get through a symlink = %q, %v; want *file.CorruptError saying it is a symbolic link", got, err)
	}
	if err := s.Delete(t.Context(), goldenKey); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, s.Path(goldenKey)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), goldenKey, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b := mustRead(t, target); string(b) != string(golden) {
		t.Errorf("symlink target changed by Put/Delete: %q", b)
	}
	if fi, err := os.Lstat(s.Path(goldenKey)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("data file after Put over a symlink: %v, %v; want a regular file", fi, err)
	}
}

// TestLockRefusesSymlink plants the lock file as a symbolic link: root must
// not create or lock the target.
func TestLockRefusesSymlink(t *testing.T) {
	s := newStore(t)
	target := filepath.Join(t.TempDir(), "created-by-lock")
	lock := strings.TrimSuffix(s.Path("k"), ".json") + ".lock"
	if err := os.Symlink(target, lock); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(t.Context(), "k")
	if err == nil {
		_ = unlock()
		t.Fatal("Lock with a symlinked lock file = nil error, want a refusal")
	}
	if !strings.HasPrefix(err.Error(), "file: lock: ") || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Lock = %q, want a \"file: lock: \" error saying the lock file is a symbolic link", err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("symlink target: Lstat = %v, want it never created", err)
	}
}
