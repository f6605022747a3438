//go:build unix

package file

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNoFollow opens path for reading, failing with an error wrapping
// errSymlink, instead of following, when path is a symbolic link
// (O_NOFOLLOW).
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, errSymlink
		}
	}
	return f, err
}

// owner returns the user ID that owns the file fi describes.
func owner(fi fs.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// lockTemp marks the temporary file f as in use by a live writer: it takes
// an flock on it, which the OS drops when f is closed or the process dies.
// Cleaning up leftovers skips files so marked. A failure only weakens that
// protection, so it is ignored.
func lockTemp(f *os.File) {
	_ = control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
}

// tempBusy reports whether a live writer holds the temporary file f (opened
// separately by the caller), as lockTemp marks it. On success the caller
// holds the mark until it closes f.
func tempBusy(f *os.File) bool {
	err := control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
	return errors.Is(err, unix.EWOULDBLOCK)
}

// control runs fn with f's descriptor and returns its error.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
