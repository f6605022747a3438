//go:build !linux

package tmpfs

import (
	"runtime"
	"testing"
)

// Mount skips the test (or fails it, see [RequireEnv]): mounting a tmpfs
// is supported on Linux only.
func Mount(t testing.TB, size string) string {
	t.Helper()
	unavailable(t, "mounting a tmpfs is not supported on %s", runtime.GOOS)
	return ""
}

// Fill fails the test: there is no file system from Mount to fill.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	t.Fatalf("tmpfs: Fill is supported on Linux only")
	return nil
}

// RemountReadOnly fails the test: supported on Linux only.
func RemountReadOnly(t testing.TB, dir string) {
	t.Helper()
	t.Fatalf("tmpfs: RemountReadOnly is supported on Linux only")
}

// RemountReadWrite fails the test: supported on Linux only.
func RemountReadWrite(t testing.TB, dir string) {
	t.Helper()
	t.Fatalf("tmpfs: RemountReadWrite is supported on Linux only")
}

// SetImmutable fails the test: supported on Linux only.
func SetImmutable(t testing.TB, path string) (undo func()) {
	t.Helper()
	t.Fatalf("tmpfs: SetImmutable is supported on Linux only")
	return nil
}
