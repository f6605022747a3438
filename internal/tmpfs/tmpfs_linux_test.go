package tmpfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/internal/tmpfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMountAndCleanup(t *testing.T) {
	var dir string
	t.Run("mounted", func(t *testing.T) {
		dir = tmpfs.Mount(t, "1m")
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if st.Type != 0x01021994 { // TMPFS_MAGIC
			t.Errorf("file system type of %s = %#x, want tmpfs", dir, st.Type)
		}
		if size := st.Blocks * uint64(st.Bsize); size != 1<<20 {
			t.Errorf("size = %d, want 1 MiB", size)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
			t.Errorf("mount point mode %v uid %d, want 0700 uid %d",
				fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid, os.Geteuid())
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	if dir == "" {
		t.Skip("not mounted")
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), " "+dir+" ") {
		t.Errorf("%s still mounted after its test ended", dir)
	}
}

func TestFill(t *testing.T) {
	dir := tmpfs.Mount(t, "1m")
	write := func(name string) error {
		return os.WriteFile(filepath.Join(dir, name), []byte("data"), 0o600)
	}
	if err := write("before"); err != nil {
		t.Fatalf("write before Fill = %v", err)
	}
	free := tmpfs.Fill(t, dir)
	if err := write("full"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a filled tmpfs = %v, want ENOSPC", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Bavail != 0 {
		t.Errorf("statfs after Fill: %d blocks available, %v; want 0", st.Bavail, err)
	}
	free()
	free() // a second call does nothing
	if err := write("after"); err != nil {
		t.Fatalf("write after free = %v", err)
	}
}

func TestFillSubdirectory(t *testing.T) {
	sub := filepath.Join(tmpfs.Mount(t, "256k"), "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	tmpfs.Fill(t, sub)
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o600); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write = %v, want ENOSPC", err)
	}
}

func TestRemount(t *testing.T) {
	dir := tmpfs.Mount(t, "1m")
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpfs.RemountReadOnly(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "g"), nil, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("create on a read-only remount = %v, want EROFS", err)
	}
	if b, err := os.ReadFile(f); err != nil || string(b) != "x" {
		t.Fatalf("read on a read-only remount = %q, %v", b, err)
	}
	tmpfs.RemountReadWrite(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "g"), nil, 0o600); err != nil {
		t.Fatalf("create after RemountReadWrite = %v", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Blocks*uint64(st.Bsize) != 1<<20 {
		t.Errorf("size after remounts = %d, %v; want 1 MiB kept", st.Blocks*uint64(st.Bsize), err)
	}
}

func TestSetImmutable(t *testing.T) {
	dir := filepath.Join(tmpfs.Mount(t, "1m"), "d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	undo := tmpfs.SetImmutable(t, dir)
	err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o600)
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("create in an immutable directory (as uid %d) = %v, want fs.ErrPermission", os.Geteuid(), err)
	}
	undo()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o600); err != nil {
		t.Fatalf("create after undo = %v", err)
	}
}
