//go:build unix

package filelock

import "syscall"

// oNoFollow makes opening a lock file fail (ELOOP) when it is a symbolic
// link, instead of creating or locking the link's target.
const oNoFollow = syscall.O_NOFOLLOW

// checkNotSymlink is not needed where O_NOFOLLOW exists.
func checkNotSymlink(string) error { return nil }
