package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

// requireEnv set to "require" (as .ci/with-keyring does) turns a missing
// Secret Service into a failure instead of a skip.
const requireEnv = "TOKENREFRESH_KEYRING_TEST"

func required() bool { return os.Getenv(requireEnv) == "require" }

// realStore returns a Store on the real OS keyring under a service name
// unique to this run, or skips (fails in CI) when no keyring answers.
//
// Tests on the shared keyring do not call t.Parallel: gnome-keyring rewrites
// the whole collection on every change, so two tests each holding a 1 MiB
// value slow each other down more than twofold (42 s instead of 20 s).
func realStore(t *testing.T) *Store {
	t.Helper()
	s := New("tokenrefresh-test-" + rand.Text()[:10])
	s.Timeout = 20 * time.Second // generous: a shared, noisy machine
	s.LockDir = filepath.Join(t.TempDir(), "locks")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.Available(ctx); err != nil {
		if required() {
			t.Fatalf("%s=require but the OS keyring is unavailable: %v", requireEnv, err)
		}
		t.Skipf("no Secret Service (run under .ci/with-keyring to test the real keyring): %v", err)
	}
	return s
}

func TestRealConformance(t *testing.T) {
	s := realStore(t)
	storagetest.Run(t, func(t *testing.T) storage.Store { return s })
}

// TestRealChunkedConformance runs the suite with values split into many
// keyring items, as on Windows and macOS.
func TestRealChunkedConformance(t *testing.T) {
	s := realStore(t)
	s.ChunkSize = 8 << 10 // a 1 MiB value becomes ~170 items
	storagetest.Run(t, func(t *testing.T) storage.Store { return s })
}

// secretTool runs secret-tool against the same Secret Service.
func secretTool(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("secret-tool"); err != nil {
		if required() {
			t.Fatalf("secret-tool not found: %v", err)
		}
		t.Skip("secret-tool not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "secret-tool", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("secret-tool %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// TestRealCrossCheck proves the secret really is in the OS keyring, by
// reading it back with secret-tool, and that we read what it writes.
func TestRealCrossCheck(t *testing.T) {
	s := realStore(t)
	ctx := t.Context()
	t.Cleanup(func() { _ = s.Delete(context.Background(), "cross") })
	t.Cleanup(func() { _ = s.Delete(context.Background(), "chunked") })
	if err := s.Put(ctx, "cross", []byte("refresh-me")); err != nil {
		t.Fatal(err)
	}
	got := secretTool(t, "", "lookup", "service", s.Service(), "username", "cross")
	if want := wholePrefix + base64.StdEncoding.EncodeToString([]byte("refresh-me")); got != want {
		t.Errorf("secret-tool lookup = %q, want %q", got, want)
	}

	secretTool(t, wholePrefix+base64.StdEncoding.EncodeToString([]byte("from secret-tool")),
		"store", "--label=tokenrefresh test", "service", s.Service(), "username", "cross")
	if v, err := s.Get(ctx, "cross"); err != nil || string(v) != "from secret-tool" {
		t.Errorf("Get after secret-tool store = %q, %v; want %q", v, err, "from secret-tool")
	}

	// A chunked value: the manifest and every chunk are keyring items.
	s.ChunkSize = 64
	big := bytes.Repeat([]byte("jwt."), 100)
	if err := s.Put(ctx, "chunked", big); err != nil {
		t.Fatal(err)
	}
	m, ok, err := parseManifest(secretTool(t, "", "lookup", "service", s.Service(), "username", "chunked"))
	if !ok || err != nil || m.count != 9 {
		t.Fatalf("manifest via secret-tool = %+v, %v, %v; want 9 chunks", m, ok, err)
	}
	var joined strings.Builder
	for i := range m.count {
		joined.WriteString(secretTool(t, "", "lookup", "service", s.Service()+chunkService, "username", m.chunkUser("chunked", i)))
	}
	if joined.String() != base64.StdEncoding.EncodeToString(big) {
		t.Errorf("chunks read with secret-tool do not add up to the value")
	}
	if v, err := s.Get(ctx, "chunked"); err != nil || !bytes.Equal(v, big) {
		t.Errorf("Get(chunked) = %d bytes, %v; want %d bytes", len(v), err, len(big))
	}
}

// hangChildEnv carries the settings of a re-executed test binary that talks
// to a stopped Secret Service (see TestRealHang).
const hangChildEnv = "TOKENREFRESH_KEYRING_HANG_CHILD"

// hangChild runs every operation against a Secret Service that never
// answers, all at once so the child takes one timeout rather than four, and
// reports on stdout. Its abandoned goroutines die with it.
func hangChild() int {
	s := New("tokenrefresh-hang")
	s.Timeout = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ops := []struct {
		name string
		fn   func() error
	}{
		{"get", func() error { _, err := s.Get(ctx, "k"); return err }},
		{"put", func() error { return s.Put(ctx, "k", []byte("v")) }},
		{"delete", func() error { return s.Delete(ctx, "k") }},
		{"available", func() error { return s.Available(ctx) }},
	}
	reports := make([]string, len(ops))
	failed := make([]bool, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Go(func() {
			start := time.Now()
			err := op.fn()
			var ue *UnavailableError
			if errors.As(err, &ue) && errors.Is(err, context.DeadlineExceeded) {
				reports[i] = fmt.Sprintf("%s: unavailable after %v", op.name, time.Since(start).Round(time.Millisecond))
				return
			}
			reports[i] = fmt.Sprintf("%s: got %v, want *UnavailableError wrapping DeadlineExceeded", op.name, err)
			failed[i] = true
		})
	}
	wg.Wait()
	code := 0
	for i, r := range reports {
		fmt.Println(r)
		if failed[i] {
			code = 1
		}
	}
	return code
}

// BenchmarkRealPutGet measures a token-sized round trip through the real
// keyring (run under .ci/with-keyring).
func BenchmarkRealPutGet(b *testing.B) {
	s := New("tokenrefresh-bench-" + rand.Text()[:10])
	if err := s.Available(b.Context()); err != nil {
		b.Skipf("no Secret Service: %v", err)
	}
	b.Cleanup(func() { _ = s.Delete(context.Background(), "k") })
	v := bytes.Repeat([]byte("t"), 2000)
	for b.Loop() {
		if err := s.Put(b.Context(), "k", v); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Get(b.Context(), "k"); err != nil {
			b.Fatal(err)
		}
	}
}
