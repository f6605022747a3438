package file

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate makes the file system set aside n bytes for f, from offset 0,
// with fallocate(2). Where the file system cannot (EOPNOTSUPP) it writes n
// zero bytes instead, which takes the same space.
func preallocate(f *os.File, n int64) error {
	err := control(f, func(fd int) error {
		for {
			err := unix.Fallocate(fd, 0, 0, n)
			if !errors.Is(err, unix.EINTR) {
				return err
			}
		}
	})
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
		return writeZeros(f, n)
	case err != nil:
		return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
	}
	return nil
}
