package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(hangChildEnv) != "" {
		os.Exit(hangChild()) // a re-executed test binary: see TestRealHang
	}
	// go-keyring shares one D-Bus connection per process (dbus.SessionBus),
	// whose reader goroutines live until exit by design.
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"),
	)
}

func fakeStore(t *testing.T, kr *fakeKeyring) *Store {
	s := New("tokenrefresh-fake")
	s.kr = kr
	s.LockDir = filepath.Join(t.TempDir(), "locks")
	return s
}

func TestFakeConformance(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 64, 2500} {
		t.Run(fmt.Sprintf("ChunkSize=%d", size), func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store {
				s := fakeStore(t, newFake())
				s.ChunkSize = size
				return s
			})
		})
	}
}

func TestChunking(t *testing.T) {
	t.Parallel()
	kr := newFake()
	s := fakeStore(t, kr)
	s.ChunkSize = 100
	ctx := t.Context()
	big := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes, 1336 base64
	if err := s.Put(ctx, "k", big); err != nil {
		t.Fatal(err)
	}
	n, longest := kr.count(s.service + chunkService)
	if n != 14 || longest > 100 {
		t.Errorf("chunks = %d (longest %d), want 14 of at most 100 bytes", n, longest)
	}
	if m := kr.secret(s.service, "k"); !strings.HasPrefix(m, manifestPrefix) {
		t.Errorf("item under the key = %q, want a manifest", m)
	}
	if got, err := s.Get(ctx, "k"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Get = %d bytes, %v; want the 1000-byte value", len(got), err)
	}
	// Overwriting with a big value replaces the chunks; a small value
	// removes them.
	if err := s.Put(ctx, "k", append(big, '!')); err != nil {
		t.Fatal(err)
	}
	if n, _ := kr.count(s.service + chunkService); n != 14 {
		t.Errorf("chunks after a chunked overwrite = %d, want 14 (old generation deleted)", n)
	}
	if err := s.Put(ctx, "k", []byte("small")); err != nil {
		t.Fatal(err)
	}
	if n, _ := kr.count(s.service + chunkService); n != 0 {
		t.Errorf("chunks after a small overwrite = %d, want 0", n)
	}
	if err := s.Put(ctx, "k", big); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, _ := kr.count(s.service + chunkService); n != 0 {
		t.Errorf("chunks after Delete = %d, want 0", n)
	}
}

// TestTooBigAdapts checks a platform limit lower than ChunkSize (as on
// Windows and macOS) still stores the value, in smaller chunks.
func TestTooBigAdapts(t *testing.T) {
	t.Parallel()
	kr := newFake()
	kr.maxSecret = 300
	s := fakeStore(t, kr)
	s.ChunkSize = 1 << 20
	want := bytes.Repeat([]byte{0xAB}, 3000)
	if err := s.Put(t.Context(), "jwt", want); err != nil {
		t.Fatalf("Put = %v, want nil", err)
	}
	if got, err := s.Get(t.Context(), "jwt"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Get = %d bytes, %v; want the 3000-byte value", len(got), err)
	}
	if _, longest := kr.count(s.service + chunkService); longest > 300 {
		t.Errorf("longest chunk = %d, want <= 300", longest)
	}
}

// TestCrashMidWriteKeepsOldValue fails a chunked Put part-way, as a crash
// or a keyring error would, and checks the old value is still readable.
func TestCrashMidWriteKeepsOldValue(t *testing.T) {
	t.Parallel()
	for _, old := range [][]byte{[]byte("old small"), bytes.Repeat([]byte("old"), 200)} {
		kr := newFake()
		s := fakeStore(t, kr)
		s.ChunkSize = 100
		if err := s.Put(t.Context(), "k", old); err != nil {
			t.Fatal(err)
		}
		kr.mu.Lock()
		kr.failSetAt, kr.failErr, kr.sets = 3, errFakeBus, 0
		kr.mu.Unlock()
		err := s.Put(t.Context(), "k", bytes.Repeat([]byte("new"), 300))
		var ue *UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, errFakeBus) {
			t.Fatalf("Put with a failing keyring = %v, want *UnavailableError wrapping the cause", err)
		}
		kr.mu.Lock()
		kr.failSetAt, kr.failErr = 0, nil
		kr.mu.Unlock()
		if got, err := s.Get(t.Context(), "k"); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("Get after a failed Put = %q, %v; want the old value", got, err)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	kr := newFake()
	s := fakeStore(t, kr)
	kr.failErr = errFakeBus
	_, err := s.Get(t.Context(), "k")
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Op != "get" || !errors.Is(err, errFakeBus) {
		t.Fatalf("Get = %v, want *UnavailableError{Op: get} wrapping the cause", err)
	}
	if errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an unavailable keyring must not look like a missing key: %v", err)
	}
	if err := s.Available(t.Context()); !errors.As(err, &ue) {
		t.Errorf("Available = %v, want *UnavailableError", err)
	}
	if err := New("").Put(t.Context(), "k", nil); err == nil {
		t.Error("Put on a Store without a service = nil, want an error")
	}
}

func TestCorrupt(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"foreign":           "hunter2",
		"bad base64":        wholePrefix + "!!",
		"bad manifest":      manifestPrefix + "x",
		"missing chunks":    manifestPrefix + "abcd:3:00",
		"too many chunks":   manifestPrefix + "abcd:999999999:00",
		"checksum mismatch": manifestPrefix + "g:1:00",
	}
	for name, secret := range tests {
		t.Run(name, func(t *testing.T) {
			kr := newFake()
			s := fakeStore(t, kr)
			kr.items[[2]string{s.service, "k"}] = secret
			kr.items[[2]string{s.service + chunkService, "k/g/0"}] = "aGk="
			if _, err := s.Get(t.Context(), "k"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestHang checks a keyring that never answers yields the typed error
// within the Store's timeout instead of blocking forever.
func TestHang(t *testing.T) {
	t.Parallel()
	kr := newFake()
	kr.hang = make(chan struct{})
	t.Cleanup(func() { close(kr.hang) }) // let the abandoned calls finish (goleak)
	s := fakeStore(t, kr)
	s.Timeout = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for name, op := range map[string]func() error{
		"get":    func() error { _, err := s.Get(ctx, "k"); return err },
		"put":    func() error { return s.Put(ctx, "k", []byte("v")) },
		"delete": func() error { return s.Delete(ctx, "k") },
	} {
		err := op()
		var ue *UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a hung keyring = %v, want *UnavailableError wrapping DeadlineExceeded", name, err)
		}
	}
	// The caller's own cancellation is reported as such, not as unavailable.
	s.Timeout = time.Hour
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	_, err := s.Get(ctx2, "k")
	var ue *UnavailableError
	if !errors.Is(err, context.Canceled) || errors.As(err, &ue) {
		t.Errorf("Get cancelled by caller = %v, want context.Canceled, not *UnavailableError", err)
	}
}

func TestUserNames(t *testing.T) {
	t.Parallel()
	kr := newFake()
	s := fakeStore(t, kr)
	for _, key := range []string{"alice@example.com", "x\x00y", "sha256:abc", strings.Repeat("k", 300)} {
		if err := s.Put(t.Context(), key, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	users := kr.users(s.service)
	var plain, hashed int
	for _, u := range users {
		if u == "alice@example.com" {
			plain++
		} else if strings.HasPrefix(u, "sha256:") && len(u) == 71 {
			hashed++
		}
	}
	if plain != 1 || hashed != 3 {
		t.Errorf("user names = %q, want the plain key once and 3 hashes", users)
	}
}
