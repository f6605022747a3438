package file

import (
	"fmt"
	"io/fs"
)

// CorruptError reports a data file that cannot be decoded: truncated, not
// our format, a checksum mismatch, or written for another key. Path names the
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

// PermissionError reports a token file or directory whose permissions let
// other users read or change it. Like ssh with a private key, the Store
// refuses to use it; fix it with chmod 600 (files) or chmod 700 (the
// directory).
type PermissionError struct {
	Path string      // the file or directory
	Mode fs.FileMode // its mode as found
}

// Error names the file and the cause; it never includes stored values.
func (e *PermissionError) Error() string {
	what, want := "token file", "0600"
	if e.Mode.IsDir() {
		what, want = "token directory", "0700"
	}
	return fmt.Sprintf("file: %s %s has mode %#o, which other users can access; refusing to use it (chmod it to %s)",
		what, e.Path, e.Mode.Perm(), want)
}
