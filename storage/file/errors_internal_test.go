package file

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// TestClassify checks the mapping of OS errors to storage sentinels on
// errors shaped as the os package returns them, including the ones a test
// run as root cannot provoke (EACCES) or a tmpfs cannot (EDQUOT).
func TestClassify(t *testing.T) {
	tests := []struct {
		errno                     syscall.Errno
		noSpace, readOnly, denied bool
	}{
		{syscall.ENOSPC, true, false, false},
		{syscall.EDQUOT, true, false, false},
		{syscall.EROFS, false, true, false},
		{syscall.EACCES, false, false, true},
		{syscall.EPERM, false, false, true},
		{syscall.EIO, false, false, false},
		{syscall.ENOENT, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			os := &fs.PathError{Op: "write", Path: "/d/.x.json.tmp-1", Err: tt.errno}
			err := opError("put", os)
			if got := errors.Is(err, storage.ErrNoSpace); got != tt.noSpace {
				t.Errorf("errors.Is(%v, storage.ErrNoSpace) = %v, want %v", err, got, tt.noSpace)
			}
			if got := errors.Is(err, storage.ErrReadOnly); got != tt.readOnly {
				t.Errorf("errors.Is(%v, storage.ErrReadOnly) = %v, want %v", err, got, tt.readOnly)
			}
			if got := errors.Is(err, fs.ErrPermission); got != tt.denied {
				t.Errorf("errors.Is(%v, fs.ErrPermission) = %v, want %v", err, got, tt.denied)
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("errors.Is(%v, %v) = false, want the OS error kept", err, tt.errno)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe != os {
				t.Errorf("errors.As(%v, *fs.PathError) lost the original error", err)
			}
			if want := "file: put: " + os.Error(); err.Error() != want {
				t.Errorf("message = %q, want %q", err, want)
			}
		})
	}
}

// TestClassifyOnce checks that an already classified error is not wrapped
// a second time (the message stays the same).
func TestClassifyOnce(t *testing.T) {
	once := classify(syscall.ENOSPC)
	if twice := classify(fmt.Errorf("x: %w", once)); twice.Error() != "x: "+syscall.ENOSPC.Error() {
		t.Errorf("classify twice = %q", twice)
	}
}
