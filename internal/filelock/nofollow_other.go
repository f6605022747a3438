//go:build !unix

package filelock

import "fmt"

// oNoFollow is zero where open has no O_NOFOLLOW; checkNotSymlink stands in.
const oNoFollow = 0

// checkNotSymlink fails when path is a symbolic link. Unlike O_NOFOLLOW it
// leaves a window between the check and the open.
func checkNotSymlink(path string) error {
	if isSymlink(path) {
		return fmt.Errorf("filelock: lock file %s is a symbolic link; refusing to follow it", path)
	}
	return nil
}
