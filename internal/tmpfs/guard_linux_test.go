package tmpfs

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Fatalf and Skipf record the message and end
// the goroutine, so a test can see a helper refuse.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a recorder in its own goroutine and returns it.
func run(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestUnavailableSkipsOrFails(t *testing.T) {
	t.Setenv(RequireEnv, "")
	r := run(t, func(tb testing.TB) { unavailable(tb, "no %s", "root") })
	if r.fatal != "" || !strings.Contains(r.skip, "tmpfs: no root") {
		t.Errorf("without %s: skip %q, fatal %q; want a skip saying why", RequireEnv, r.skip, r.fatal)
	}
	t.Setenv(RequireEnv, "require")
	r = run(t, func(tb testing.TB) { unavailable(tb, "no %s", "root") })
	if r.skip != "" || !strings.Contains(r.fatal, "tmpfs: no root") {
		t.Errorf("with %s=require: skip %q, fatal %q; want a failure saying why", RequireEnv, r.skip, r.fatal)
	}
}

// TestRefusesOtherFileSystems checks the guard that keeps the helpers off
// real disks and off directories that are not mount points.
func TestRefusesOtherFileSystems(t *testing.T) {
	plain := t.TempDir()
	r := run(t, func(tb testing.TB) { SetImmutable(tb, plain) })
	if !strings.Contains(r.fatal, "not on a tmpfs from tmpfs.Mount") {
		t.Errorf("SetImmutable(%s) fatal = %q, want a refusal", plain, r.fatal)
	}
	if _, err := os.Stat("/dev/shm"); err == nil {
		r = run(t, func(tb testing.TB) { RemountReadOnly(tb, "/dev/shm") })
		if !strings.Contains(r.fatal, "not on a tmpfs from tmpfs.Mount") {
			t.Errorf("RemountReadOnly(/dev/shm) fatal = %q, want a refusal", r.fatal)
		}
	}
	sub := filepath.Join(Mount(t, "64k"), "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	r = run(t, func(tb testing.TB) { RemountReadOnly(tb, sub) })
	if !strings.Contains(r.fatal, "is not a mount point") {
		t.Errorf("RemountReadOnly(subdirectory) fatal = %q, want a refusal", r.fatal)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:  "/a b",
		`/tab\011`: "/tab\t",
		`/x\134y`:  `/x\y`,
		`/plain`:   "/plain",
		`/odd\04`:  `/odd\04`,
		`/bad\999`: `/bad\999`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		path, root string
		want       bool
	}{
		{"/a/b", "/a", true},
		{"/a", "/a", true},
		{"/ab", "/a", false},
		{"/x", "/", true},
	}
	for _, tt := range tests {
		if got := within(tt.path, tt.root); got != tt.want {
			t.Errorf("within(%q, %q) = %v, want %v", tt.path, tt.root, got, tt.want)
		}
	}
}
