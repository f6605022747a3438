//go:build linux

package keyring

import (
	"bufio"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRealHang stops a real gnome-keyring-daemon (SIGSTOP) so it never
// answers, and checks every operation returns the typed unavailable error
// at its deadline. The daemon runs on its own private bus, so stopping it
// cannot disturb other tests using the shared one, and the calls run in a
// child process, whose blocked goroutines die with it.
func TestRealHang(t *testing.T) {
	t.Parallel()
	addr, daemon := startPrivateKeyring(t)
	if err := daemon.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = daemon.Signal(syscall.SIGCONT) }) // runs before the kill
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hangChildEnv+"=1", "DBUS_SESSION_BUS_ADDRESS="+addr,
		// Under -race a binary exiting 0 first sleeps GORACE's
		// atexit_sleep_ms, 1 s by default; the child need not.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if n := strings.Count(string(out), "unavailable after"); n != 4 {
		t.Errorf("%d operations reported unavailable, want 4", n)
	}
}

// startPrivateKeyring starts a dbus-daemon and an unlocked
// gnome-keyring-daemon on it, both stopped in t.Cleanup, and returns the bus
// address and the keyring daemon's process.
func startPrivateKeyring(t *testing.T) (string, *os.Process) {
	t.Helper()
	for _, bin := range []string{"dbus-daemon", "dbus-send", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			if required() {
				t.Fatalf("%s not found: %v", bin, err)
			}
			t.Skipf("%s not installed (see .ci/install-keyring)", bin)
		}
	}
	tmp := t.TempDir()
	env := append(os.Environ(), "XDG_RUNTIME_DIR="+mkdir(t, tmp, "run"), "XDG_DATA_HOME="+mkdir(t, tmp, "data"))

	bus := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	bus.Env = env
	stdout, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Process.Kill(); _ = bus.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon address: %v", err)
	}
	addr = strings.TrimSpace(addr)
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)

	kd := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	kd.Env = env
	kd.Stdin = strings.NewReader(rand.Text())
	if err := kd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kd.Process.Signal(syscall.SIGCONT); _ = kd.Process.Kill(); _ = kd.Wait() })
	waitForOwner(t, env, kd.Process.Pid)
	return addr, kd.Process
}

// waitForOwner polls (bounded) until the keyring daemon owns its bus name.
func waitForOwner(t *testing.T, env []string, pid int) {
	t.Helper()
	for range 400 {
		cmd := exec.Command("dbus-send", "--session", "--dest=org.freedesktop.DBus", "--print-reply",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.GetConnectionUnixProcessID", "string:org.freedesktop.secrets")
		cmd.Env = env
		out, _ := cmd.Output()
		if strings.Contains(string(out), "uint32 "+strconv.Itoa(pid)) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("gnome-keyring-daemon did not own org.freedesktop.secrets within 10s")
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}
