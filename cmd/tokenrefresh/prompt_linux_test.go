//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// The tests here drive the re-login prompt through a pseudo-terminal, as a
// user at a terminal would.

// openPTY opens a pseudo-terminal: the test writes keys to and reads the
// screen from master; the command under test gets tty as its terminal.
// Both are closed when the test ends.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var n int
	err = control(master, func(fd int) (err error) {
		if err = unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
			return err
		}
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN) // ptsname
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() }) // first: the master's reader then sees EOF
	return master, tty
}

// control runs fn on f's descriptor without switching f to blocking mode.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// echoOn reports whether the terminal echoes what is typed.
func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	var tio *unix.Termios
	err := control(tty, func(fd int) (err error) {
		tio, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// screen collects what is written to the terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// watch copies master's output into a screen until the terminal closes.
func watch(master *os.File) *screen {
	s := &screen{}
	go func() {
		b := make([]byte, 1024)
		for {
			n, err := master.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen shows want, or fails the test after a
// generous timeout.
func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(s.String(), want) {
			return
		}
	}
	t.Fatalf("the terminal never showed %q; it shows %q", want, s.String())
}

// waitForCount waits until the screen shows want n times, or fails the
// test after a generous timeout.
func (s *screen) waitForCount(t *testing.T, want string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Count(s.String(), want) >= n {
			return
		}
	}
	t.Fatalf("the terminal never showed %q %d times; it shows %q", want, n, s.String())
}

// TestReloginPromptInterrupted runs the real binary at the re-login
// prompt on a terminal and stops it there with Ctrl-C (typed, so the
// terminal sends SIGINT) or SIGTERM. It must exit at once with 130 or 143,
// print no token, and leave the terminal echoing again.
func TestReloginPromptInterrupted(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	cases := []struct {
		name      string
		interrupt func(cmd *exec.Cmd, master *os.File) error
		want      int
	}{
		{"ctrl-c", func(_ *exec.Cmd, master *os.File) error {
			_, err := master.Write([]byte{0x03})
			return err
		}, 130},
		{"sigterm", func(cmd *exec.Cmd, _ *os.File) error { return cmd.Process.Signal(syscall.SIGTERM) }, 143},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			c.must(exitOK, "wonderland\n", nil, loginArgs(modeJSON, srv.URL)...)
			c.must(exitOK, "", nil, "logout") // the next command must log in again

			master, tty := openPTY(t)
			scr := watch(master)
			cmd := exec.Command(c.bin, "token")
			cmd.Env = c.env
			cmd.Stdin, cmd.Stderr = tty, tty
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			// Its own session with the pty as controlling terminal, so a
			// typed Ctrl-C signals it (and only it).
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})

			scr.waitFor(t, "Password for alice at 127.0.0.1:")
			if echoOn(t, tty) {
				t.Fatal("the terminal echoes at the password prompt")
			}
			sent := time.Now()
			if err := tc.interrupt(cmd, master); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-exited:
				exited <- err // for the cleanup
			case <-time.After(30 * time.Second):
				t.Fatalf("still running 30s after the interrupt; the terminal shows %q", scr.String())
			}
			t.Logf("exited %v after the interrupt", time.Since(sent).Round(time.Millisecond))
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.want {
				t.Errorf("exit: %v, want exit status %d; the terminal shows %q", err, tc.want, scr.String())
			}
			if !echoOn(t, tty) {
				t.Error("the terminal does not echo after the command exited")
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

// TestReloginPromptAsksOnceThenLogsIn: on a terminal, a command whose
// session needs a new login asks for the password once, in its own flow,
// logs in with it and carries on; the password is not echoed. For get
// with many URLs the 401s of a session revoked on the server all wait for
// that one prompt.
func TestReloginPromptAsksOnceThenLogsIn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// kill ends the session that "login" started.
		kill func(t *testing.T, te *testEnv, srv *authtest.Server)
		args func(base string) []string
		// check looks at stdout.
		check func(t *testing.T, stdout string)
	}{
		{
			name: "token after logout",
			kill: func(t *testing.T, te *testEnv, _ *authtest.Server) {
				if code := te.run(t, "logout"); code != exitOK {
					t.Fatalf("logout = %d: %s", code, te.errOut.String())
				}
			},
			args: func(string) []string { return []string{"token"} },
			check: func(t *testing.T, stdout string) {
				if tok := strings.TrimSpace(stdout); tok == "" || strings.ContainsAny(tok, " \n") {
					t.Errorf("stdout = %q, want one token", stdout)
				}
			},
		},
		{
			name: "get --parallel after revocation",
			kill: func(_ *testing.T, _ *testEnv, srv *authtest.Server) { srv.RevokeAll() },
			args: func(base string) []string {
				args := []string{"get", "--parallel", "4"}
				for i := range 6 {
					args = append(args, fmt.Sprintf("%s/api/items/%d", base, i%3+1))
				}
				return args
			},
			check: func(t *testing.T, stdout string) {
				if n := strings.Count(stdout, `"id":`); n != 6 || !strings.HasPrefix(stdout, `{"id":1,`) {
					t.Errorf("stdout = %q, want 6 bodies in argument order", stdout)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startDemo(t, 0, 0)
			te := newTestEnv(t, "")
			te.vars["TOKENREFRESH_PASSWORD"] = "wonderland"
			if code := te.run(t, "login", "--login-url", srv.LoginURL(), "--refresh-url", srv.RefreshURL(),
				"--logout-url", srv.LogoutURL(), "--username", "alice", "--store", "file"); code != exitOK {
				t.Fatalf("login = %d: %s", code, te.errOut.String())
			}
			delete(te.vars, "TOKENREFRESH_PASSWORD")
			tc.kill(t, te, srv)

			master, tty := openPTY(t)
			scr := watch(master)
			te.out.Reset()
			te.stdin, te.stderr, te.isTerminal = tty, tty, isTerminal
			code := make(chan int, 1)
			go func() { code <- te.env.run(t.Context(), tc.args(srv.URL)) }()

			scr.waitFor(t, "Password for alice at 127.0.0.1:")
			if echoOn(t, tty) {
				t.Fatal("the terminal echoes at the password prompt")
			}
			if _, err := master.Write([]byte("wonderland\r")); err != nil {
				t.Fatal(err)
			}
			select {
			case c := <-code:
				if c != exitOK {
					t.Fatalf("%q = %d; the terminal shows %q", tc.args(srv.URL), c, scr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("still running 30s after the password was typed; the terminal shows %q", scr.String())
			}
			tc.check(t, te.out.String())
			shown := scr.String()
			if n := strings.Count(shown, "Password for"); n != 1 {
				t.Errorf("asked %d times, want once; the terminal shows %q", n, shown)
			}
			if strings.Contains(shown, "wonderland") {
				t.Errorf("the password was echoed: %q", shown)
			}
			if !echoOn(t, tty) {
				t.Error("the terminal does not echo after the prompt")
			}
			// The first login, then the one after the prompt (a 401 still in
			// flight when the password arrives may log in once more with it).
			if st := srv.Counters(); st.Logins < 2 || st.FailedLogins != 0 {
				t.Errorf("server counters %+v, want 2 or more logins and no failed one", st)
			}
		})
	}
}

// TestPromptAsksAgainAfterAWrongPassword: on a terminal a password the
// server rejects is asked again, up to 3 times, and the prompt names the
// user and the server. For a re-login (token after logout) the second try
// is right; for login all three are wrong and it fails with exit 1.
func TestPromptAsksAgainAfterAWrongPassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		args   func(base string) []string
		typed  []string
		want   int
		logins int64 // failed logins the server must see
	}{
		{"re-login", func(string) []string { return []string{"token"} }, []string{"wrong", "wonderland"}, exitOK, 1},
		{"login", func(base string) []string {
			return []string{"login", "--profile", "fresh", "--login-url", base + "/auth/login", "--refresh-url", base + "/auth/refresh",
				"--username", "alice", "--store", "file"}
		}, []string{"wrong", "worse", "worst"}, exitError, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startDemo(t, 0, 0)
			te := newTestEnv(t, "")
			te.login(t, srv.URL)
			if code := te.run(t, "logout"); code != exitOK {
				t.Fatalf("logout = %d: %s", code, te.errOut.String())
			}
			master, tty := openPTY(t)
			scr := watch(master)
			te.out.Reset()
			te.stdin, te.stderr, te.isTerminal = tty, tty, isTerminal
			code := make(chan int, 1)
			go func() { code <- te.env.run(t.Context(), tc.args(srv.URL)) }()

			prompt := "Password for alice at " + strings.TrimPrefix(srv.URL, "http://") + ": "
			for i, pw := range tc.typed {
				scr.waitForCount(t, prompt, i+1)
				if _, err := master.Write([]byte(pw + "\r")); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case c := <-code:
				if c != tc.want {
					t.Errorf("%q = %d, want %d; the terminal shows %q", tc.args(srv.URL), c, tc.want, scr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("still running 30s after the last password; the terminal shows %q", scr.String())
			}
			shown := scr.String()
			if n := strings.Count(shown, prompt); n != len(tc.typed) {
				t.Errorf("asked %d times, want %d; the terminal shows %q", n, len(tc.typed), shown)
			}
			if n := strings.Count(shown, "try again"); n != min(int(tc.logins), maxPasswordTries-1) {
				t.Errorf("%d 'try again' notes; the terminal shows %q", n, shown)
			}
			if st := srv.Counters(); st.FailedLogins != tc.logins {
				t.Errorf("server saw %d failed logins, want %d", st.FailedLogins, tc.logins)
			}
			if !echoOn(t, tty) {
				t.Error("the terminal does not echo after the prompt")
			}
		})
	}
}

// TestE2EProgressBar runs "get -o FILE" with a terminal as stderr: a
// progress bar with percent, bytes of the total and rate is drawn and
// cleared at the end; with --quiet nothing is drawn.
func TestE2EProgressBar(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	c := newCLI(t)
	c.must(exitOK, "wonderland\n", nil, loginArgs(modeJSON, srv.URL)...)
	for _, quiet := range []bool{false, true} {
		master, tty := openPTY(t)
		scr := watch(master)
		out := filepath.Join(c.dir, "large.bin")
		args := []string{"get", "-o", out, srv.URL + "/api/large?bytes=3000000"}
		if quiet {
			args = append(args, "--quiet")
		}
		cmd := exec.Command(c.bin, args...)
		cmd.Env, cmd.Stderr = c.env, tty
		if err := cmd.Run(); err != nil {
			t.Fatalf("%q: %v; the terminal shows %q", args, err, scr.String())
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() != 3000000 {
			t.Fatalf("downloaded file: %v, %v", fi, err)
		}
		if quiet {
			if got := scr.String(); got != "" {
				t.Errorf("--quiet drew %q", got)
			}
			continue
		}
		// The command has ended; the screen may still be catching up.
		scr.waitUntil(t, "a progress bar, cleared", func(shown string) bool {
			cleared := strings.HasSuffix(shown, "\r") && strings.Trim(shown[strings.LastIndex(strings.TrimSuffix(shown, "\r"), "\r")+1:], " \r") == ""
			return strings.Contains(shown, "%") && strings.Contains(shown, "/2.9 MiB") && strings.Contains(shown, "/s") && cleared
		})
	}
}

// waitUntil waits until the screen satisfies ok, or fails the test after a
// generous timeout.
func (s *screen) waitUntil(t *testing.T, what string, ok func(shown string) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok(s.String()) {
			return
		}
	}
	t.Fatalf("the terminal never showed %s; it shows %q", what, s.String())
}
