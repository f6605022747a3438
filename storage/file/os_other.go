//go:build !unix

package file

import (
	"io/fs"
	"os"
)

// openNoFollow opens path for reading, failing with errSymlink when path is
// a symbolic link. Without O_NOFOLLOW the check comes before the open.
func openNoFollow(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, errSymlink
	}
	return os.Open(path)
}

// owner reports no owner: this system has no Unix user IDs.
func owner(fs.FileInfo) (uid int, ok bool) { return 0, false }

// lockTemp does nothing here: Windows does not let a file open in another
// process be removed, which protects a live writer's temporary file.
func lockTemp(*os.File) {}

// tempBusy reports false; removing a file in use fails by itself here.
func tempBusy(*os.File) bool { return false }
