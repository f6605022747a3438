package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a tokenrefresh process started by a test.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{} // closed when it exited
	err            error         // of Wait, once done
}

// start runs tokenrefresh with args in the background; the test's end
// kills it if it still runs.
func (c *cli) start(stdin string, extraEnv []string, args ...string) *proc {
	c.t.Helper()
	p := &proc{cmd: exec.Command(c.bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	p.cmd.Stdin = strings.NewReader(stdin)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	c.t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// signal sends sig and waits for the exit code, failing the test if the
// process is still running after a generous time.
func (p *proc) signal(t *testing.T, sig os.Signal) int {
	t.Helper()
	sent := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after %v; stderr: %s", sig, p.stderr.String())
	}
	t.Logf("exited %v after %v", time.Since(sent).Round(time.Millisecond), sig)
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		t.Fatalf("after %v: %v, want an exit status", sig, p.err)
	}
	return ee.ExitCode()
}

// TestE2EInterrupted stops commands that wait on the network with SIGINT
// (Ctrl-C) or SIGTERM while their server hangs: each exits 130 or 143 with
// one line on stderr (the log says how fast), and an interrupted logout
// leaves no token behind. (TestE2EGetTimeout covers a refresh cut short;
// the pty tests a prompt.)
func TestE2EInterrupted(t *testing.T) {
	t.Parallel()
	get := func(path string) func(string) []string {
		return func(base string) []string { return []string{"get", base + path} }
	}
	cases := []struct {
		name  string
		hang  string
		args  func(base string) []string
		stdin string
		sig   syscall.Signal
		want  int
		// after checks the state once the command ended.
		after func(t *testing.T, c *cli, g *gate)
	}{
		{name: "get, API hung, Ctrl-C", hang: "/api/profile", args: get("/api/profile"), sig: syscall.SIGINT, want: 130},
		{name: "login, server hung, Ctrl-C", hang: "/auth/login", stdin: "wonderland\n", sig: syscall.SIGINT, want: 130,
			args: func(base string) []string { return loginArgs(modeJSON, base) }},
		{name: "logout, revocation hung, SIGTERM", hang: "/auth/logout", args: func(string) []string { return []string{"logout"} },
			sig: syscall.SIGTERM, want: 143,
			after: func(t *testing.T, c *cli, g *gate) {
				if files, _ := filepath.Glob(filepath.Join(c.dir, "tokens", "*.json")); len(files) != 0 {
					t.Errorf("token files after an interrupted logout: %v", files)
				}
				if r := c.must(exitOK, "", nil, "logout"); !strings.Contains(r.stdout, "no session") {
					t.Errorf("second logout: %q, want no session", r.stdout)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate(t, startDemo(t, 0, 0))
			c := newCLI(t)
			c.must(exitOK, "wonderland\n", nil, loginArgs(modeJSON, g.URL)...)
			g.hang(tc.hang)
			p := c.start(tc.stdin, nil, tc.args(g.URL)...)
			g.awaitArrival(t, p.done)
			if tc.hang == "/auth/logout" {
				// Local first: the tokens are gone while the server
				// is still being asked.
				if files, _ := filepath.Glob(filepath.Join(c.dir, "tokens", "*.json")); len(files) != 0 {
					t.Errorf("token files while logout waits for the server: %v", files)
				}
			}
			if code := p.signal(t, tc.sig); code != tc.want {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.want, p.stderr.String())
			}
			if got := p.stderr.String(); !strings.HasSuffix(got, ": interrupted\n") || strings.Count(got, "\n") != 1 {
				t.Errorf("stderr = %q, want one line saying it was interrupted", got)
			}
			if tc.after != nil {
				tc.after(t, c, g)
			}
		})
	}
}

// TestE2EDemoInterrupted: Ctrl-C in the middle of the demo exits 130.
func TestE2EDemoInterrupted(t *testing.T) {
	t.Parallel()
	p := newCLI(t).start("", nil, "demo")
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.stdout.String(), "1. sequential calls"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the demo never started: %q %q", p.stdout.String(), p.stderr.String())
		}
	}
	if code := p.signal(t, syscall.SIGINT); code != 130 {
		t.Errorf("demo after Ctrl-C: exit %d, want 130", code)
	}
}

// TestE2EGetTimeout: --timeout bounds the whole call, a refresh the
// server never answers included. (TestGetTimeout covers a hung request and
// TOKENREFRESH_TIMEOUT.)
func TestE2EGetTimeout(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	g := newGate(t, srv)
	c := newCLI(t)
	c.must(exitOK, "wonderland\n", nil, loginArgs(modeJSON, g.URL)...)
	srv.RevokeAccessTokens()
	g.hang("/auth/refresh")
	r := c.must(exitError, "", nil, "get", "--timeout", "100ms", g.URL+"/api/profile")
	if !strings.Contains(r.stderr, "gave up after 100ms (--timeout)") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr = %q, want one line saying it gave up", r.stderr)
	}
	// The refresh token was sent and no answer saved, so it may be spent:
	// the next command logs in instead of sending it again.
	g.unhang("/auth/refresh")
	c.must(exitOK, "", []string{"TOKENREFRESH_PASSWORD=wonderland"}, "get", g.URL+"/api/profile")
	if st := srv.Counters(); st.Reuses != 0 || st.Logins != 2 {
		t.Errorf("server: %d refresh-token reuses, %d logins; want 0 and 2", st.Reuses, st.Logins)
	}
}

// TestE2EConventions: the Go-CLI habits, with the built binary (global
// flags before the command: TestE2ESession).
func TestE2EConventions(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	r := c.must(exitUsage, "", nil, "stauts")
	if !strings.Contains(r.stderr, `did you mean "status"?`) {
		t.Errorf("stderr = %q, want a suggestion", r.stderr)
	}
	version := c.must(exitOK, "", nil, "version").stdout
	if !strings.HasPrefix(version, "tokenrefresh ") || c.must(exitOK, "", nil, "--version").stdout != version {
		t.Errorf("version = %q, and --version must print the same", version)
	}
	if r := c.must(exitOK, "", nil, "completion", "bash"); !strings.Contains(r.stdout, "__start_tokenrefresh") {
		t.Errorf("completion bash: %q", r.stdout)
	}
}

// TestE2EPasswordsAndAuthStyle: a rejected password is said to be
// rejected (exit 1 for login, 3 for a command that needed a new login), and
// --auth-style form logs in and refreshes against a server that takes
// client credentials only in the form body.
func TestE2EPasswordsAndAuthStyle(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	g := newGate(t, srv)
	g.refuseBasic = true
	c := newCLI(t)
	c.env = append(c.env, "TOKENREFRESH_CLIENT_SECRET="+e2eClientSecret)
	args := loginArgs(modeOAuth2, g.URL)
	r := c.must(exitError, "wrong\n", nil, append(args, "--auth-style", "form")...)
	if !strings.Contains(r.stderr, "rejected the password for alice") {
		t.Errorf("login with a wrong password: %q", r.stderr)
	}
	c.must(exitError, "wonderland\n", nil, args...) // Basic: invalid_client
	c.must(exitOK, "wonderland\n", nil, append(args, "--auth-style", "form")...)
	srv.RevokeAccessTokens()
	c.must(exitOK, "", nil, "get", g.URL+"/api/profile") // a refresh, by form
	c.must(exitOK, "", nil, "logout")
	r = c.must(exitReauth, "", []string{"TOKENREFRESH_PASSWORD=wrong"}, "token")
	if !strings.Contains(r.stderr, "rejected the password in TOKENREFRESH_PASSWORD") || strings.Contains(r.stderr, "set TOKENREFRESH_PASSWORD") {
		t.Errorf("token with a wrong TOKENREFRESH_PASSWORD: %q", r.stderr)
	}
	if basic, _ := g.clientAuth(); basic != 1 {
		t.Errorf("%d client authentications by Basic, want only the one refused", basic)
	}
}
