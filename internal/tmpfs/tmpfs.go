// Package tmpfs mounts small, private tmpfs file systems for tests that need
// a real full disk or a real read-only file system: [Mount] one, [Fill] it
// to ENOSPC, [RemountReadOnly] it, [SetImmutable] a directory so that even
// root cannot write it.
//
// Mounting needs root (CAP_SYS_ADMIN) on Linux. Where that is missing Mount
// skips the test with the reason, unless the environment variable
// TOKENREFRESH_TMPFS_TEST is "require" (CI sets it): then it fails the test.
// The other helpers act only on file systems Mount made (their mount source
// is "tokenrefresh-tmpfs"), so a mistaken path can never fill or remount a
// real disk.
//
// Only _test.go files import this package.
package tmpfs

import (
	"fmt"
	"os"
	"testing"
)

// RequireEnv is the environment variable that, set to "require", makes
// [Mount] fail the test instead of skipping it when it cannot mount.
const RequireEnv = "TOKENREFRESH_TMPFS_TEST"

// source is the mount source of every file system Mount makes; the other
// helpers refuse file systems without it.
const source = "tokenrefresh-tmpfs"

// unavailable skips the test, or fails it when RequireEnv says so.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "tmpfs: " + fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) == "require" {
		t.Fatalf("%s (%s=require)", msg, RequireEnv)
	}
	t.Skipf("%s; skipping (set %s=require to fail instead)", msg, RequireEnv)
}
