package auto_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/auto"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/storage/keyring"
	"github.com/tokenrefresh/tokenrefresh/storage/storagetest"
)

// noBusChildEnv marks a re-executed test binary that must see no keyring:
// go-keyring keeps one D-Bus connection per process, so only a fresh
// process can be told the bus is gone.
const noBusChildEnv = "TOKENREFRESH_AUTO_NO_BUS_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(noBusChildEnv); dir != "" {
		os.Exit(noBusChild(dir))
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"),
	)
}

// keyringAvailable reports whether the OS keyring answers here; with
// TOKENREFRESH_KEYRING_TEST=require (CI) it must.
func keyringAvailable(t *testing.T) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := keyring.New("tokenrefresh-auto-test").Available(ctx)
	if err != nil && os.Getenv("TOKENREFRESH_KEYRING_TEST") == "require" {
		t.Fatalf("TOKENREFRESH_KEYRING_TEST=require but the keyring is unavailable: %v", err)
	}
	return err == nil
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tokens")
	s, backend, err := auto.Open(t.Context(), auto.Options{Mode: auto.ModeFile, Dir: dir})
	if err != nil || backend != auto.BackendFile {
		t.Fatalf("Open(file) = %v, %v; want file backend", backend, err)
	}
	fs, ok := s.(*file.Store)
	if !ok || fs.Dir() != dir {
		t.Fatalf("Open(file) returned %T, want *file.Store in %s", s, dir)
	}
	storagetest.Run(t, func(t *testing.T) storage.Store { return s })
}

func TestDefaultDir(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", cfg)
	s, _, err := auto.Open(t.Context(), auto.Options{Mode: auto.ModeFile})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(*file.Store).Dir(); !strings.HasPrefix(got, cfg) || filepath.Base(got) != "tokenrefresh" {
		t.Errorf("default dir = %s, want tokenrefresh under %s", got, cfg)
	}
}

func TestUnknownMode(t *testing.T) {
	t.Parallel()
	if _, _, err := auto.Open(t.Context(), auto.Options{Mode: "cloud", Dir: t.TempDir()}); err == nil {
		t.Fatal("Open(mode cloud) = nil error, want an error")
	}
}

func TestKeyringWhenAvailable(t *testing.T) {
	t.Parallel()
	if !keyringAvailable(t) {
		t.Skip("no Secret Service here (run under .ci/with-keyring)")
	}
	for _, mode := range []auto.Mode{"", auto.ModeAuto, auto.ModeKeyring} {
		t.Run(string(mode), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tokens")
			service := "tokenrefresh-auto-" + strings.ReplaceAll(t.Name(), "/", "-")
			var fellBack error
			s, backend, err := auto.Open(t.Context(), auto.Options{Service: service, Dir: dir, Mode: mode,
				OnFallback: func(err error) { fellBack = err }})
			if err != nil || backend != auto.BackendKeyring || fellBack != nil {
				t.Fatalf("Open(%q) = %v, %v (fallback %v); want keyring", mode, backend, err, fellBack)
			}
			ks := s.(*keyring.Store)
			if ks.LockDir != dir {
				t.Errorf("keyring LockDir = %q, want %q", ks.LockDir, dir)
			}
			t.Cleanup(func() { _ = s.Delete(context.Background(), "k") })
			if err := s.Put(t.Context(), "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			// The value is in the OS keyring, readable by another Store.
			if v, err := keyring.New(service).Get(t.Context(), "k"); err != nil || string(v) != "v" {
				t.Errorf("keyring Get = %q, %v; want %q", v, err, "v")
			}
			unlock, err := s.(storage.Locker).Lock(t.Context(), "k")
			if err != nil {
				t.Fatal(err)
			}
			_ = unlock()
		})
	}
}

// noBusChild opens a store in every mode with a session bus address that
// leads nowhere and prints what it got.
func noBusChild(dir string) int {
	ctx := context.Background()
	for _, mode := range []auto.Mode{auto.ModeAuto, auto.ModeKeyring} {
		var reason error
		s, backend, err := auto.Open(ctx, auto.Options{Dir: dir, Mode: mode, Service: "tokenrefresh-auto-child",
			OnFallback: func(err error) { reason = err }})
		var ue *keyring.UnavailableError
		fmt.Printf("%s: backend=%q store=%T err=%t unavailable=%t fallback=%t\n",
			mode, backend, s, err != nil, errors.As(err, &ue), errors.As(reason, &ue))
	}
	return 0
}

func TestFallbackIsReported(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tokens")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), noBusChildEnv+"="+dir,
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-such-bus"),
		// Under -race a binary exiting 0 first sleeps GORACE's
		// atexit_sleep_ms, 1 s by default; the child need not.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := `auto: backend="file" store=*file.Store err=false unavailable=false fallback=true
keyring: backend="" store=<nil> err=true unavailable=true fallback=false
`
	if string(out) != want {
		t.Errorf("child output:\n%s\nwant:\n%s", out, want)
	}
}
