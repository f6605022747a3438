package file_test

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/internal/tmpfs"
	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

// tokenSize is about what a token source reserves for one token.
const tokenSize = 8 << 10

// tmpfsStore returns a Store on the mount point of a fresh 1 MiB tmpfs
// holding "old" under "k".
func tmpfsStore(t *testing.T) *file.Store {
	t.Helper()
	s, err := file.New(tmpfs.Mount(t, "1m"))
	if err != nil {
		t.Fatalf("New on a tmpfs = %v", err)
	}
	if err := s.Put(t.Context(), "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	return s
}

// wantKind checks that err is the op's error with a "file: " prefix, and
// wraps both want (a storage sentinel) and the OS error errno.
func wantKind(t *testing.T, op string, err, want error, errno syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) || !errors.Is(err, errno) {
		t.Errorf("%s = %v, want an error wrapping %v and %v", op, err, want, errno)
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "file: ") || strings.Count(msg, "file: ") != 1 || !strings.Contains(msg, errno.Error()) {
		t.Errorf("%s message %q, want one \"file: \" prefix and %q", op, msg, errno.Error())
	}
}

func wantValue(t *testing.T, s *file.Store, want string) {
	t.Helper()
	if got, err := s.Get(t.Context(), "k"); err != nil || string(got) != want {
		t.Errorf("Get = %q, %v; want %q", got, err, want)
	}
}

func wantNoTemp(t *testing.T, s *file.Store) {
	t.Helper()
	if tmps := tempFiles(t, s, "k"); len(tmps) != 0 {
		t.Errorf("temporary files left: %q", tmps)
	}
}

func TestFullDisk(t *testing.T) {
	s := tmpfsStore(t)
	early, err := s.Reserve(t.Context(), "k", tokenSize) // before the disk fills
	if err != nil {
		t.Fatalf("Reserve on a tmpfs with room = %v", err)
	}
	free := tmpfs.Fill(t, s.Dir())

	res, err := s.Reserve(t.Context(), "k", tokenSize)
	if err == nil {
		_ = res.Release()
	}
	wantKind(t, "Reserve on a full disk", err, storage.ErrNoSpace, syscall.ENOSPC)
	if err != nil && !strings.HasPrefix(err.Error(), "file: reserve: ") {
		t.Errorf("Reserve error %q does not say the reservation failed", err)
	}
	wantKind(t, "Put on a full disk", s.Put(t.Context(), "k", []byte("lost")), storage.ErrNoSpace, syscall.ENOSPC)
	wantValue(t, s, "old")

	// Taking the lock still works: a lock file needs no data blocks.
	unlock, err := s.Lock(t.Context(), "k")
	if err != nil {
		t.Fatalf("Lock on a full disk = %v", err)
	}
	value := strings.Repeat("n", tokenSize)
	if err := early.Commit(t.Context(), []byte(value)); err != nil {
		t.Fatalf("Commit of a reservation taken before the disk filled = %v, want nil", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, value)
	wantNoTemp(t, s)

	free()
	res, err = s.Reserve(t.Context(), "k", tokenSize)
	if err != nil {
		t.Fatalf("Reserve after freeing space = %v", err)
	}
	if err := res.Commit(t.Context(), []byte("again")); err != nil {
		t.Fatalf("Commit after freeing space = %v", err)
	}
	wantValue(t, s, "again")
	if err := s.Put(t.Context(), "k", []byte("put")); err != nil {
		t.Fatalf("Put after freeing space = %v", err)
	}
	wantValue(t, s, "put")
	wantNoTemp(t, s)
}

// TestFullDiskLargerCommit: a reservation does not cover a larger value;
// its Commit fails as Put would, and the old value stays.
func TestFullDiskLargerCommit(t *testing.T) {
	s := tmpfsStore(t)
	res, err := s.Reserve(t.Context(), "k", 10)
	if err != nil {
		t.Fatal(err)
	}
	tmpfs.Fill(t, s.Dir())
	err = res.Commit(t.Context(), []byte(strings.Repeat("x", 64<<10)))
	wantKind(t, "Commit larger than reserved on a full disk", err, storage.ErrNoSpace, syscall.ENOSPC)
	wantValue(t, s, "old")
	wantNoTemp(t, s)
}

func TestReadOnly(t *testing.T) {
	s := tmpfsStore(t)
	unlock, err := s.Lock(t.Context(), "k") // creates the lock file
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	tmpfs.RemountReadOnly(t, s.Dir())

	res, err := s.Reserve(t.Context(), "k", tokenSize)
	if err == nil {
		_ = res.Release()
	}
	wantKind(t, "Reserve on a read-only file system", err, storage.ErrReadOnly, syscall.EROFS)
	wantKind(t, "Put on a read-only file system", s.Put(t.Context(), "k", []byte("lost")), storage.ErrReadOnly, syscall.EROFS)
	wantKind(t, "Delete on a read-only file system", s.Delete(t.Context(), "k"), storage.ErrReadOnly, syscall.EROFS)
	wantValue(t, s, "old")

	// An existing lock file can still be locked; a new one cannot be made.
	unlock, err = s.Lock(t.Context(), "k")
	if err != nil {
		t.Fatalf("Lock with an existing lock file on a read-only file system = %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Lock(t.Context(), "new key")
	wantKind(t, "Lock of a new key on a read-only file system", err, storage.ErrReadOnly, syscall.EROFS)

	tmpfs.RemountReadWrite(t, s.Dir())
	if err := s.Put(t.Context(), "k", []byte("new")); err != nil {
		t.Fatalf("Put after remounting read-write = %v", err)
	}
	wantValue(t, s, "new")
}

// TestDirectoryNotWritable uses an immutable directory, which refuses
// writes to root too (root ignores permission bits).
func TestDirectoryNotWritable(t *testing.T) {
	s := tmpfsStore(t)
	tmpfs.SetImmutable(t, s.Dir())
	checkNotWritable(t, s)
}

// TestDirectoryNoWritePermission uses mode 0500, which only binds non-root
// users; as root TestDirectoryNotWritable covers the case.
func TestDirectoryNoWritePermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores permission bits; TestDirectoryNotWritable and TestClassify cover this as root")
	}
	s := newStore(t)
	if err := s.Put(t.Context(), "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.Dir(), 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(s.Dir(), 0o700) })
	checkNotWritable(t, s)
}

func checkNotWritable(t *testing.T, s *file.Store) {
	t.Helper()
	res, err := s.Reserve(t.Context(), "k", tokenSize)
	if err == nil {
		_ = res.Release()
	}
	if !errors.Is(err, fs.ErrPermission) || errors.Is(err, storage.ErrNoSpace) || errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("Reserve in a directory we cannot write = %v, want fs.ErrPermission only", err)
	}
	if err := s.Put(t.Context(), "k", []byte("lost")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Put in a directory we cannot write = %v, want fs.ErrPermission", err)
	}
	wantValue(t, s, "old")
}
