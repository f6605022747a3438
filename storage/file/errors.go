package file

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// CorruptError reports a data file that cannot be decoded: truncated, not
// our format, a checksum mismatch, written for another key, or not a regular
// file at all (a directory, a symbolic link). Path names the
// file so a user can inspect or remove it. The contents never appear in the
// message.
type CorruptError struct {
	Path string // the data file
	Err  error  // what is wrong with it
}

// Error names the file and the cause; it never includes stored values.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("file: corrupt token file %s: %v", e.Path, e.Err)
}

// Unwrap returns Err.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is makes a CorruptError match [storage.ErrCorrupt].
func (e *CorruptError) Is(target error) bool { return target == storage.ErrCorrupt }

// VersionError reports a data file written by a newer version of this
// package, in a format version this one cannot read. The file is left alone.
type VersionError struct {
	Path    string // the data file
	Version int    // the version found in the file
}

// Error names the file and the cause; it never includes stored values.
func (e *VersionError) Error() string {
	return fmt.Sprintf("file: token file %s has format version %d, newer than the %d this program reads",
		e.Path, e.Version, formatVersion)
}

// Is makes a VersionError match [storage.ErrNewerFormat]: the file must not
// be overwritten by this program.
func (e *VersionError) Is(target error) bool { return target == storage.ErrNewerFormat }

// PermissionError reports a token file or directory other users could read
// or change: a file with any group or other permission bit, a directory
// group or others can write, or a directory another user owns. Like ssh
// with a private key, the Store refuses to use it; fix it with chmod 600
// (files) or chmod 700 (the directory), or use a directory of your own.
type PermissionError struct {
	Path string      // the file or directory
	Mode fs.FileMode // its mode as found
	// OtherOwner is set when the refusal is because another user owns
	// Path; Owner is then that user's ID.
	OtherOwner bool
	Owner      int
}

// Error names the file and the cause; it never includes stored values.
func (e *PermissionError) Error() string {
	what, want := "token file", "0600"
	if e.Mode.IsDir() {
		what, want = "token directory", "0700"
	}
	if e.OtherOwner {
		return fmt.Sprintf("file: %s %s belongs to another user (uid %d); refusing to use it (use a directory of your own)",
			what, e.Path, e.Owner)
	}
	return fmt.Sprintf("file: %s %s has mode %#o, which other users can access; refusing to use it (chmod it to %s)",
		what, e.Path, e.Mode.Perm(), want)
}

// osError is an OS error from a write that also matches the storage sentinel
// callers test for: [storage.ErrNoSpace] for ENOSPC and EDQUOT,
// [storage.ErrReadOnly] for EROFS. Its message is the OS error's own, and
// the OS error (an *fs.PathError wrapping a syscall.Errno, say) stays in the
// chain.
type osError struct {
	err  error // the OS error
	kind error // storage.ErrNoSpace or storage.ErrReadOnly
}

func (e *osError) Error() string   { return e.err.Error() }
func (e *osError) Unwrap() []error { return []error{e.err, e.kind} }

// classify returns err, made to match [storage.ErrNoSpace] or
// [storage.ErrReadOnly] as well when its cause is one of those. EACCES and
// EPERM need nothing: syscall.Errno already matches fs.ErrPermission.
func classify(err error) error {
	switch {
	case err == nil, errors.Is(err, storage.ErrNoSpace), errors.Is(err, storage.ErrReadOnly):
		return err
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return &osError{err: err, kind: storage.ErrNoSpace}
	case errors.Is(err, syscall.EROFS):
		return &osError{err: err, kind: storage.ErrReadOnly}
	}
	return err
}

// opError returns "file: <op>: <err>", with err classified.
func opError(op string, err error) error {
	return fmt.Errorf("file: %s: %w", op, classify(err))
}
