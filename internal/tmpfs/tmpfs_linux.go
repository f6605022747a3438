package tmpfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mountFlags are used for the mount and every remount: a remount that left
// them out would clear them.
const mountFlags = unix.MS_NOSUID | unix.MS_NODEV

// fsImmutableFL is FS_IMMUTABLE_FL of <linux/fs.h> (chattr +i).
const fsImmutableFL = 0x10

// Mount mounts a fresh tmpfs of the given size (a tmpfs size= value such as
// "1m" or "512k") on a new directory inside t.TempDir() and returns that
// directory, the mount point. The mount point has mode 0700 and belongs to
// the current user, as storage/file requires. Mount unmounts it in
// t.Cleanup (lazily, MNT_DETACH, if something still uses it).
//
// Mount skips the test, saying why, when the process is not root or the
// mount fails (no CAP_SYS_ADMIN in a container, say); when [RequireEnv] is
// "require" it fails the test instead.
func Mount(t testing.TB, size string) string {
	t.Helper()
	if size == "" || strings.ContainsAny(size, ", \t\n") {
		t.Fatalf("tmpfs: invalid size %q", size)
	}
	if uid := os.Geteuid(); uid != 0 {
		unavailable(t, "mounting a tmpfs needs root; running as uid %d", uid)
	}
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatalf("tmpfs: %v", err)
	}
	dir := filepath.Join(base, "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("tmpfs: %v", err)
	}
	opts := fmt.Sprintf("size=%s,mode=0700,uid=%d,gid=%d", size, os.Geteuid(), os.Getegid())
	if err := unix.Mount(source, dir, "tmpfs", mountFlags, opts); err != nil {
		unavailable(t, "mount -t tmpfs -o %s %s %s: %v", opts, source, dir, err)
	}
	t.Cleanup(func() { unmount(t, dir) })
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("tmpfs: %v", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o700 || !ok || int(st.Uid) != os.Geteuid() {
		t.Fatalf("tmpfs: mount point %s has mode %v, want 0700 owned by uid %d", dir, fi.Mode(), os.Geteuid())
	}
	return dir
}

// unmount unmounts dir, lazily if a plain unmount fails.
func unmount(t testing.TB, dir string) {
	t.Helper()
	err := unix.Unmount(dir, 0)
	if err == nil {
		return
	}
	if lerr := unix.Unmount(dir, unix.MNT_DETACH); lerr != nil {
		t.Errorf("tmpfs: unmount %s: %v; lazy unmount: %v", dir, err, lerr)
	}
}

// Fill fills the file system of dir (a tmpfs from [Mount], or a directory
// on one) until a write fails with ENOSPC, with one hidden file
// (.tmpfs-fill-*) in dir, and returns a function that removes it, freeing
// the space again. Creating files still works on a full tmpfs (inodes are
// counted apart); writing any data does not. free may be called more than
// once; Fill also calls it in t.Cleanup. Fill writes at most the file
// system's size plus 1 MiB, and fails the test when that brings no ENOSPC.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	ownMount(t, dir)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatalf("tmpfs: statfs %s: %v", dir, err)
	}
	limit := int64(st.Blocks)*st.Bsize + 1<<20
	f, err := os.CreateTemp(dir, ".tmpfs-fill-*")
	if err != nil {
		t.Fatalf("tmpfs: fill %s: %v", dir, err)
	}
	var once sync.Once
	free = func() {
		once.Do(func() {
			if err := os.Remove(f.Name()); err != nil {
				t.Errorf("tmpfs: free filled space: %v", err)
			}
		})
	}
	t.Cleanup(free)
	err = writeUntilFull(f, limit)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("tmpfs: fill %s: %v", dir, err)
	}
	return free
}

// writeUntilFull writes zeros to f until ENOSPC, and fails when limit bytes
// bring none or another error happens.
func writeUntilFull(f *os.File, limit int64) error {
	buf := make([]byte, 64<<10)
	for written := int64(0); written <= limit; {
		n, err := f.Write(buf)
		written += int64(n)
		if errors.Is(err, unix.ENOSPC) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("wrote %d bytes without ENOSPC", limit)
}

// RemountReadOnly remounts dir, a mount point returned by [Mount], read-only:
// every write then fails with EROFS. It fails the test when a file on it is
// open for writing (the kernel refuses, EBUSY) or dir is not from Mount.
func RemountReadOnly(t testing.TB, dir string) {
	t.Helper()
	remount(t, dir, unix.MS_RDONLY)
}

// RemountReadWrite makes dir, a mount point returned by [Mount], writable
// again after [RemountReadOnly].
func RemountReadWrite(t testing.TB, dir string) {
	t.Helper()
	remount(t, dir, 0)
}

func remount(t testing.TB, dir string, flags uintptr) {
	t.Helper()
	if point := ownMount(t, dir); point != realPath(t, dir) {
		t.Fatalf("tmpfs: %s is not a mount point from tmpfs.Mount (it is inside %s)", dir, point)
	}
	err := unix.Mount("", dir, "", unix.MS_REMOUNT|mountFlags|flags, "")
	if errors.Is(err, unix.EBUSY) {
		t.Fatalf("tmpfs: remount %s read-only: %v (a file on it is open for writing: a reservation?)", dir, err)
	}
	if err != nil {
		t.Fatalf("tmpfs: remount %s (flags %#x): %v", dir, flags, err)
	}
}

// SetImmutable sets the immutable attribute (chattr +i) on path, a file or
// directory on a tmpfs from [Mount]. Nobody, root included, can then change
// it: in an immutable directory creating, removing or renaming entries fails
// with EPERM, which matches fs.ErrPermission (files already in it stay
// writable and readable). That is how a test run as root
// meets a directory it may not write, since root ignores permission bits.
// The returned function clears the attribute; SetImmutable also calls it in
// t.Cleanup. It skips (or fails, see [RequireEnv]) when the kernel's tmpfs
// has no such attribute (before Linux 6.0).
func SetImmutable(t testing.TB, path string) (undo func()) {
	t.Helper()
	ownMount(t, path)
	if err := setFlag(path, fsImmutableFL, true); err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
			unavailable(t, "this kernel's tmpfs has no immutable attribute: %v", err)
		}
		t.Fatalf("tmpfs: set immutable on %s: %v", path, err)
	}
	var once sync.Once
	undo = func() {
		once.Do(func() {
			if err := setFlag(path, fsImmutableFL, false); err != nil {
				t.Errorf("tmpfs: clear immutable on %s: %v", path, err)
			}
		})
	}
	t.Cleanup(undo)
	return undo
}

// setFlag sets or clears an inode flag (FS_IOC_SETFLAGS) of path.
func setFlag(path string, flag uint32, on bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return fmt.Errorf("FS_IOC_GETFLAGS: %w", err)
	}
	if on {
		flags |= flag
	} else {
		flags &^= flag
	}
	if err := unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags)); err != nil {
		return fmt.Errorf("FS_IOC_SETFLAGS: %w", err)
	}
	return nil
}
