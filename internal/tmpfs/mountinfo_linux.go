package tmpfs

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// mount is one line of /proc/self/mountinfo.
type mount struct {
	point, fstype, source string
}

// ownMount returns the mount point of the file system holding path, and
// fails the test unless that file system is a tmpfs made by Mount.
func ownMount(t testing.TB, path string) string {
	t.Helper()
	real := realPath(t, path)
	mounts, err := readMounts()
	if err != nil {
		t.Fatalf("tmpfs: %v", err)
	}
	var best mount
	for _, m := range mounts {
		// Later lines are mounted on top of earlier ones: >= keeps them.
		if within(real, m.point) && len(m.point) >= len(best.point) {
			best = m
		}
	}
	if best.fstype != "tmpfs" || best.source != source {
		t.Fatalf("tmpfs: %s is on %s (%s %s), not on a tmpfs from tmpfs.Mount; refusing to touch it",
			path, best.point, best.fstype, best.source)
	}
	return best.point
}

// realPath returns path made absolute, with symbolic links resolved.
func realPath(t testing.TB, path string) string {
	t.Helper()
	real, err := filepath.EvalSymlinks(path)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		t.Fatalf("tmpfs: %v", err)
	}
	return real
}

// within reports whether path is root or inside it.
func within(path, root string) bool {
	return path == root || root == "/" || strings.HasPrefix(path, root+"/")
}

// readMounts parses /proc/self/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func readMounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		before, after, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(before), strings.Fields(after)
		if !ok || len(fields) < 5 || len(tail) < 2 {
			return nil, fmt.Errorf("mountinfo: cannot parse %q", sc.Text())
		}
		mounts = append(mounts, mount{point: unescape(fields[4]), fstype: tail[0], source: unescape(tail[1])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return mounts, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
