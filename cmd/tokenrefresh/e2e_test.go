package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

const (
	e2eClientID     = "cli-test"
	e2eClientSecret = "client-secret-for-tests"
)

// startDemo serves the demo server on loopback until the test ends. Zero
// lifetimes mean the server's defaults.
func startDemo(t *testing.T, access, refresh time.Duration) *authtest.Server {
	t.Helper()
	return authtest.NewServer(t, authtest.Options{
		AccessTTL: access, RefreshTTL: refresh,
		ClientID: e2eClientID, ClientSecret: e2eClientSecret,
	})
}

// cli runs the built binary with a private config directory.
type cli struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newCLI(t *testing.T) *cli {
	dir := t.TempDir()
	return &cli{t: t, bin: builtBinary(t), dir: dir, env: []string{
		"TOKENREFRESH_CONFIG_DIR=" + dir,
		"HOME=" + dir,
		"PATH=" + os.Getenv("PATH"),
	}}
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes tokenrefresh with args, stdin and extra environment, bounded
// by a generous timeout.
func (c *cli) run(stdin string, extraEnv []string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(append([]string{}, c.env...), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("tokenrefresh %q: %v", args, err)
	}
	return result{code, out.String(), errOut.String()}
}

// must runs args and fails the test unless the exit code is want.
func (c *cli) must(want int, stdin string, extraEnv []string, args ...string) result {
	c.t.Helper()
	r := c.run(stdin, extraEnv, args...)
	if r.code != want {
		c.t.Fatalf("tokenrefresh %q = exit %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.stdout, r.stderr)
	}
	return r
}

// loginArgs returns the login flags for mode against srv.
func loginArgs(mode, url string) []string {
	if mode == modeJSON {
		return []string{"login", "--login-url", url + "/auth/login", "--refresh-url", url + "/auth/refresh",
			"--logout-url", url + "/auth/logout", "--username", "alice", "--password-stdin", "--store", "file"}
	}
	return []string{"login", "--token-url", url + "/oauth2/token", "--revoke-url", url + "/oauth2/revoke",
		"--client-id", e2eClientID, "--username", "alice", "--password-stdin", "--store", "file"}
}

func TestE2ESession(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{modeJSON, modeOAuth2} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startDemo(t, 0, 0)
			c := newCLI(t)
			if mode == modeOAuth2 {
				c.env = append(c.env, "TOKENREFRESH_CLIENT_SECRET="+e2eClientSecret)
			}
			login := c.must(exitOK, "wonderland\n", nil, loginArgs(mode, srv.URL)...)
			if !strings.Contains(login.stdout, "file store") {
				t.Errorf("login does not say which store it used: %q", login.stdout)
			}
			// Logging in again ends the session it replaces.
			again := c.must(exitOK, "wonderland\n", nil, loginArgs(mode, srv.URL)...)
			if st := srv.Counters(); !strings.Contains(again.stdout, "previous session was revoked") || st.ActiveFamilies != 1 {
				t.Errorf("second login: %q; server has %d active sessions, want 1", again.stdout, st.ActiveFamilies)
			}
			get := c.must(exitOK, "", nil, "get", srv.URL+"/api/profile")
			if !strings.Contains(get.stdout, `"alice"`) {
				t.Errorf("get stdout = %q, want alice's profile", get.stdout)
			}
			// The server revokes the access token: the next get gets 401s
			// and must refresh. (TestGetParallelSharesOneRefresh covers a
			// stored token that expired, with a fake clock.)
			srv.RevokeAccessTokens()
			c.must(exitOK, "", nil, "get", srv.URL+"/api/items", srv.URL+"/api/items/1")
			if st := srv.Counters(); st.Refreshes < 1 || st.Logins != 2 {
				t.Errorf("server stats after expiry: %+v, want >= 1 refresh and 2 logins", st)
			}
			// The global flags before the command: GNU, and the first
			// CLI's one-dash form.
			profileFlag := map[string]string{modeJSON: "--profile", modeOAuth2: "-profile"}[mode]
			status := c.must(exitOK, "", nil, profileFlag, "default", "status")
			for _, want := range []string{"Profile default", mode, "Logged in to", "alice", "Store:", "file", "Access token:", "expires in",
				"Refresh token:", "Next command:", "uses the access token"} {
				if !strings.Contains(status.stdout, want) {
					t.Errorf("status lacks %q:\n%s", want, status.stdout)
				}
			}
			tok := strings.TrimSpace(c.must(exitOK, "", nil, "token").stdout)
			if tok == "" || strings.ContainsAny(tok, " \n") {
				t.Fatalf("token printed %q, want one token", tok)
			}
			for _, r := range []result{login, get, status} {
				if strings.Contains(r.stdout+r.stderr, tok) {
					t.Errorf("a command other than token printed the token")
				}
			}
			c.must(exitHTTPErr, "", nil, "get", srv.URL+"/api/missing")
			out := c.must(exitOK, "", nil, "logout")
			if !strings.Contains(out.stdout, "Logged out") {
				t.Errorf("logout stdout = %q", out.stdout)
			}
			if st := srv.Counters(); st.Revocations < 1 {
				t.Errorf("server revocations after logout = %d, want >= 1", st.Revocations)
			}
			after := c.must(exitReauth, "", nil, "token")
			if strings.Count(after.stderr, "\n") != 1 || !strings.Contains(after.stderr, "tokenrefresh login") {
				t.Errorf("token after logout: stderr = %q, want one line with the login hint", after.stderr)
			}
		})
	}
}

// TestE2EConcurrentProcesses runs 8 workers, each starting tokenrefresh get
// processes back to back on one profile, while the access token keeps
// dying: it lives 1s (so expiry refreshes happen), and the server revokes
// every access token after each 16th finished process (so processes that
// hold the same token get 401s together and race to renew it). Every
// renewal is a rotation of the refresh token. No process may fail and the
// server must never see a refresh token reused, which is what happens when
// two processes rotate the same token.
func TestE2EConcurrentProcesses(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{modeJSON, modeOAuth2} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startDemo(t, time.Second, time.Minute)
			c := newCLI(t)
			c.env = append(c.env, "TOKENREFRESH_CLIENT_SECRET="+e2eClientSecret)
			c.must(exitOK, "wonderland\n", nil, loginArgs(mode, srv.URL)...)

			const workers, perWorker, revokeEvery = 8, 8, 16
			var wg sync.WaitGroup
			var mu sync.Mutex
			var failures []string
			finished := 0
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						r := c.run("", nil, "get", fmt.Sprintf("%s/api/items/%d", srv.URL, (w+i)%3+1))
						mu.Lock()
						if r.code != exitOK {
							failures = append(failures, fmt.Sprintf("worker %d run %d: exit %d: %s", w, i, r.code, r.stderr))
						}
						if finished++; finished%revokeEvery == 0 {
							srv.RevokeAccessTokens()
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(failures) > 0 {
				t.Errorf("%d of %d get processes failed:\n%s", len(failures), workers*perWorker, strings.Join(failures, "\n"))
			}
			st := srv.Counters()
			if st.Reuses != 0 || st.Logins != 1 || st.Refreshes < 3 {
				t.Errorf("server stats %+v: want 0 reuse detections, 1 login, >= 3 refreshes", st)
			}
			t.Logf("%s: %d processes, server stats %+v", mode, workers*perWorker, st)
		})
	}
}

func TestE2EProfileFileHasNoSecret(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	c := newCLI(t)
	secretFile := filepath.Join(c.dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(e2eClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(loginArgs(modeOAuth2, srv.URL), "--client-secret-file", secretFile)
	c.must(exitOK, "wonderland\n", nil, args...)
	data, err := os.ReadFile(filepath.Join(c.dir, "profiles", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(e2eClientSecret)) || bytes.Contains(data, []byte("wonderland")) {
		t.Errorf("profile holds a secret:\n%s", data)
	}
	if !bytes.Contains(data, []byte(secretFile)) {
		t.Errorf("profile lacks the client secret path:\n%s", data)
	}
	// A refresh needs the client secret: later commands find it through
	// the saved path, with no flags.
	srv.RevokeAccessTokens()
	c.must(exitOK, "", nil, "get", srv.URL+"/api/profile")
	if st := srv.Counters(); st.Refreshes < 1 {
		t.Errorf("server refreshes = %d, want at least 1", st.Refreshes)
	}
}

// TestE2EKeyring logs in with the default --store auto and expects the OS
// keyring. It runs only where a Secret Service is up (.ci/with-keyring sets
// TOKENREFRESH_KEYRING_TEST), and skips elsewhere.
func TestE2EKeyring(t *testing.T) {
	if os.Getenv("TOKENREFRESH_KEYRING_TEST") == "" {
		t.Skip("no OS keyring: run under .ci/with-keyring (TOKENREFRESH_KEYRING_TEST unset)")
	}
	srv := startDemo(t, 0, 0)
	c := newCLI(t)
	for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			c.env = append(c.env, k+"="+v)
		}
	}
	// A profile name of its own, so reruns never meet an old keyring entry.
	profile := fmt.Sprintf("keyring-e2e-%d", time.Now().UnixNano())
	args := loginArgs(modeJSON, srv.URL)
	args = append(args[:len(args)-2], "--profile", profile) // drop --store file: auto
	login := c.must(exitOK, "wonderland\n", nil, args...)
	if !strings.Contains(login.stdout, "keyring store") {
		t.Fatalf("login with --store auto under a keyring: %q, want the keyring store", login.stdout)
	}
	srv.RevokeAccessTokens() // the next get refreshes
	c.must(exitOK, "", nil, "get", "--profile", profile, srv.URL+"/api/profile")
	status := c.must(exitOK, "", nil, "status", "--profile", profile)
	if !strings.Contains(status.stdout, "keyring") || !strings.Contains(status.stdout, "active") {
		t.Errorf("status:\n%s\nwant the keyring store and an active session", status.stdout)
	}
	if st := srv.Counters(); st.Refreshes < 1 {
		t.Errorf("server refreshes = %d, want at least 1", st.Refreshes)
	}
	entries, _ := filepath.Glob(filepath.Join(c.dir, "tokens", "*.json"))
	if len(entries) != 0 {
		t.Errorf("token files %v exist although the keyring was used", entries)
	}
	c.must(exitOK, "", nil, "logout", "--profile", profile)
	c.must(exitReauth, "", nil, "token", "--profile", profile)
}

// TestE2EServeDemo starts serve-demo as a user would, reads the base URL
// from its first stdout line, logs in against it and stops it with SIGINT.
func TestE2EServeDemo(t *testing.T) {
	t.Parallel()
	bin := builtBinary(t) // may wait for the build: before the deadline starts
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve-demo", "--addr", "127.0.0.1:0", "--access-ttl", "1m",
		"--user", "alice:wonderland", "--user", "bob:builder")
	cmd.Stderr = io.Discard
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v", err)
	}
	base := strings.TrimSpace(line)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first stdout line = %q, want the base URL", line)
	}
	for user, want := range map[string]int{`{"username":"bob","password":"builder"}`: 200, `{"username":"carol","password":"x"}`: 401} {
		resp, err := http.Post(base+"/auth/login", "application/json", strings.NewReader(user))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("login %s with --user flags: status %d, want %d", user, resp.StatusCode, want)
		}
	}
	// debug calls a debug endpoint the way another process would.
	debug := func(method, path string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(authtest.DebugHeader, "1") // debug endpoints refuse calls without it
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	c := newCLI(t)
	c.must(exitOK, "wonderland\n", nil, loginArgs(modeJSON, base)...)
	// --access-ttl 1m took effect (the default is 15m).
	var st statusReport
	if err := json.Unmarshal([]byte(c.must(exitOK, "", nil, "status", "--json").stdout), &st); err != nil {
		t.Fatal(err)
	}
	if st.AccessExpiry == nil || st.AccessExpiry.After(time.Now().Add(5*time.Minute)) {
		t.Errorf("access token expiry %v with --access-ttl 1m, want about a minute from now", st.AccessExpiry)
	}
	if resp := debug(http.MethodPost, "/debug/revoke-access"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /debug/revoke-access: %s", resp.Status)
	}
	// The revoked token gets a 401: this get refreshes.
	logged := c.must(exitOK, "", []string{"TOKENREFRESH_DEBUG=1"}, "get", base+"/api/profile")
	if !strings.Contains(logged.stderr, "refresh_finished") {
		t.Errorf("TOKENREFRESH_DEBUG=1 stderr = %q, want the refresh logged", logged.stderr)
	}
	if tok := strings.TrimSpace(c.must(exitOK, "", nil, "token").stdout); strings.Contains(logged.stderr, tok) {
		t.Errorf("the debug log contains the access token")
	}
	var stats authtest.Counters
	if err := json.NewDecoder(debug(http.MethodGet, "/debug/stats").Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.Refreshes < 1 || stats.Logins != 2 {
		t.Errorf("server stats = %+v, want 2 logins (bob's, then the CLI's) and at least 1 refresh", stats)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Errorf("serve-demo after SIGINT: %v, want exit 0", err)
	}
}
