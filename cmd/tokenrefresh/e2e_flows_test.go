package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// The end-to-end tests of the login flows run the built binary against an
// authtest server, which serves discovery, the authorization and device
// endpoints and client credentials. The browser is this test binary run
// again as the BROWSER command (fetchBrowserMain); e2e_chromium_linux_test.go
// uses a real headless Chromium.

// fetchBrowserEnv, set in a process's environment, makes this test binary
// act as a browser (see TestMain): it fetches its one argument, a URL,
// following redirects, and writes the status and the final page to the
// file the variable names. That is what a browser does with the
// authorization URL when the server approves at once: the login page
// redirects to the CLI's loopback listener, which shows its success page.
const fetchBrowserEnv = "TOKENREFRESH_TEST_FETCH_BROWSER"

// fetchBrowserMain is the fake browser's main; it returns the exit code.
func fetchBrowserMain(args []string) int {
	out := os.Getenv(fetchBrowserEnv)
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "fake browser: want one URL, got %q\n", args)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req) // follows the redirect to the loopback listener
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	page := fmt.Sprintf("%d %s\n%s", resp.StatusCode, resp.Request.URL.Host, body)
	if err := os.WriteFile(out, []byte(page), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fetchBrowser returns the environment that makes this test binary the
// CLI's BROWSER, and the file its page lands in.
func fetchBrowser(t *testing.T) (env []string, page string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(exe, " \t:") {
		t.Skipf("the test binary's path %q cannot be a BROWSER command", exe)
	}
	page = filepath.Join(t.TempDir(), "page.html")
	// The race detector's exit pause would hold the login up for a second.
	return []string{"BROWSER=" + exe, fetchBrowserEnv + "=" + page, "GORACE=atexit_sleep_ms=0"}, page
}

// readPage waits (boundedly) for the fake browser's page and returns it.
func readPage(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the browser wrote no page to %s: %v", path, err)
		}
	}
}

// startIssuer starts an authorization server for the flows: the test
// client, 1-second device polling.
func startIssuer(t *testing.T, o authtest.Options) *authtest.Server {
	t.Helper()
	o.ClientID, o.ClientSecret = e2eClientID, e2eClientSecret
	if o.DeviceInterval == 0 {
		o.DeviceInterval = time.Second
	}
	return authtest.NewServer(t, o)
}

// readProfile returns the saved profile file of name.
func readProfile(t *testing.T, c *cli, name string) (raw string, p profile) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, "profiles", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return string(data), p
}

// checkRotatingSession drives a logged-in profile through two server-side
// revocations of its access token: each get refreshes, and the server
// rotates the refresh token each time, so a rotated token that was not
// saved would show as a reuse. Then status must show the flow (and the
// issuer, when given), and logout must revoke the session through the
// profile's revocation endpoint.
func checkRotatingSession(t *testing.T, c *cli, srv *authtest.Server, flow, issuer string) {
	t.Helper()
	before := srv.Counters()
	for range 2 {
		srv.RevokeAccessTokens()
		if r := c.must(exitOK, "", nil, "get", srv.APIURL("/profile")); !strings.Contains(r.stdout, `"alice"`) {
			t.Errorf("get = %q, want alice's profile", r.stdout)
		}
	}
	st := srv.Counters()
	if st.Refreshes-before.Refreshes != 2 || st.Reuses != 0 || st.Logins != before.Logins {
		t.Errorf("server after two revocations: %+v (before %+v), want 2 more refreshes, no reuse, no login", st, before)
	}
	rotations := 0
	for _, ev := range srv.Events() {
		if ev.Kind == authtest.EventRefresh && ev.Issued != "" && ev.Issued != ev.Label {
			rotations++
		}
	}
	if rotations < 2 {
		t.Errorf("%d refreshes rotated the refresh token, want at least 2", rotations)
	}
	status := c.must(exitOK, "", nil, "status").stdout
	for _, want := range []string{"Flow:", flow, "active"} {
		if !strings.Contains(status, want) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	if issuer != "" && (!strings.Contains(status, "Issuer:") || !strings.Contains(status, issuer)) {
		t.Errorf("status lacks the issuer %q:\n%s", issuer, status)
	}
	revocations := srv.Counters().Revocations
	out := c.must(exitOK, "", nil, "logout").stdout
	if !strings.Contains(out, "revoked on the server") {
		t.Errorf("logout: %q, want the session revoked on the server", out)
	}
	if st := srv.Counters(); st.Revocations != revocations+1 || st.ActiveFamilies != 0 {
		t.Errorf("server after logout: %d revocations (was %d), %d active sessions; want one more revocation, none active",
			st.Revocations, revocations, st.ActiveFamilies)
	}
}

// TestE2EBrowserFlow: with BROWSER set and no --flow or --username, login
// discovers the endpoints from --issuer and logs in through the browser;
// the profile keeps the discovered endpoints (never a secret), later
// commands refresh with rotation, logout revokes through the discovered
// revocation endpoint, and once the session is gone a command in a pipe
// exits 3 without opening a browser.
func TestE2EBrowserFlow(t *testing.T) {
	t.Parallel()
	srv := startIssuer(t, authtest.Options{})
	c := newCLI(t)
	browser, page := fetchBrowser(t)
	c.env = append(append(c.env, browser...), "TOKENREFRESH_CLIENT_SECRET="+e2eClientSecret)
	r := c.must(exitOK, "", nil, "login", "--issuer", srv.IssuerURL(), "--client-id", e2eClientID,
		"--scope", "openid", "--store", "file")
	if !strings.Contains(r.stdout, "with a browser login") {
		t.Errorf("login stdout = %q, want a browser login", r.stdout)
	}
	if !strings.Contains(r.stderr, srv.AuthorizationURL()+"?") {
		t.Errorf("login stderr = %q, want the authorization URL printed", r.stderr)
	}
	if got := readPage(t, page); !strings.HasPrefix(got, "200 127.0.0.1:") || !strings.Contains(got, "Logged in") {
		t.Errorf("the browser ended on %q, want the success page of the loopback listener", got)
	}
	if st := srv.Counters(); st.AuthorizationCodes != 1 || st.Logins != 1 {
		t.Errorf("server: %d authorization codes, %d logins; want 1 and 1", st.AuthorizationCodes, st.Logins)
	}
	raw, p := readProfile(t, c, "default")
	if p.Flow != flowBrowser || p.Issuer != srv.IssuerURL() || p.AuthorizationURL != srv.AuthorizationURL() ||
		p.TokenURL != srv.TokenURL() || p.RevokeURL != srv.RevokeURL() {
		t.Errorf("profile = %s, want the browser flow and the discovered endpoints", raw)
	}
	tok := strings.TrimSpace(c.must(exitOK, "", nil, "token").stdout)
	if strings.Contains(raw, e2eClientSecret) || strings.Contains(raw, tok) {
		t.Errorf("profile holds a secret:\n%s", raw)
	}

	checkRotatingSession(t, c, srv, flowBrowser, srv.IssuerURL())

	r = c.must(exitReauth, "", nil, "token")
	if !strings.Contains(r.stderr, "browser login runs only in the foreground on a terminal") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("token without a session, in a pipe: stderr = %q, want one line saying a terminal is needed", r.stderr)
	}
	if st := srv.Counters(); st.AuthorizationCodes != 1 {
		t.Errorf("%d authorization requests, want 1: a browser was opened without a terminal", st.AuthorizationCodes)
	}
}

// TestE2EBrowserNoBrowser: --no-browser prints the URL and opens nothing
// (the BROWSER command never runs); the user opens the URL elsewhere, and
// --redirect-port fixes the loopback port of the redirect.
func TestE2EBrowserNoBrowser(t *testing.T) {
	t.Parallel()
	srv := startIssuer(t, authtest.Options{PublicClient: true})
	c := newCLI(t)
	browser, page := fetchBrowser(t)
	c.env = append(c.env, browser...)
	port := freePort(t)
	p := c.start("", nil, "login", "--issuer", srv.IssuerURL(), "--client-id", e2eClientID, "--flow", "browser",
		"--no-browser", "--redirect-port", strconv.Itoa(port), "--store", "file")
	authURL := waitForLine(t, p, regexp.MustCompile(`(?m)^(http://\S+/oauth2/authorize\?\S+)$`))
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d/callback", port); u.Query().Get("redirect_uri") != want {
		t.Errorf("redirect_uri = %q, want %q", u.Query().Get("redirect_uri"), want)
	}
	resp, err := http.Get(authURL) // the user, in a browser of their own
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Logged in") {
		t.Errorf("the browser ended on %s %q, want the success page", resp.Status, body)
	}
	if code := p.wait(t); code != exitOK {
		t.Fatalf("login = exit %d; stderr: %s", code, p.stderr.String())
	}
	if _, err := os.Stat(page); !os.IsNotExist(err) {
		t.Errorf("the BROWSER command ran despite --no-browser (%v)", err)
	}
	if _, prof := readProfile(t, c, "default"); !prof.NoBrowser || prof.RedirectPort != port {
		t.Errorf("profile: no_browser %v, redirect_port %d; want true, %d", prof.NoBrowser, prof.RedirectPort, port)
	}
}

// TestE2EDeviceFlow: with no browser to open and no terminal, login
// chooses the device flow, prints the verification URI, the user code and
// the URI with the code, one per line on stderr, and polls until the code
// is approved (through the demo server's debug endpoint, as a test in
// another process would). Refresh with rotation and logout follow.
func TestE2EDeviceFlow(t *testing.T) {
	t.Parallel()
	srv := startIssuer(t, authtest.Options{PublicClient: true})
	c := newCLI(t)
	p := c.start("", nil, "login", "--issuer", srv.IssuerURL(), "--client-id", e2eClientID, "--store", "file")
	code := waitForLine(t, p, regexp.MustCompile(`(?m)^and enter the code: (\S+)$`))
	shown := p.stderr.String()
	lines := strings.Split(strings.TrimSpace(shown), "\n")
	want := []string{"To log in, visit: " + srv.VerificationURL(), "and enter the code: " + code,
		"or visit: " + srv.VerificationURL() + "?user_code=" + code}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", shown, strings.Join(want, "\n"))
	}
	debugCall(t, srv, "/debug/device?decision=approve&user_code="+url.QueryEscape(code))
	if exit := p.wait(t); exit != exitOK {
		t.Fatalf("login = exit %d; stderr: %s", exit, p.stderr.String())
	}
	if !strings.Contains(p.stdout.String(), "with a device login") {
		t.Errorf("login stdout = %q", p.stdout.String())
	}
	if st := srv.Counters(); st.DeviceCodes != 1 || st.Logins != 1 || st.AuthorizationCodes != 0 {
		t.Errorf("server %+v, want 1 device code and 1 login", st)
	}
	if raw, prof := readProfile(t, c, "default"); prof.Flow != flowDevice || prof.DeviceAuthorizationURL != srv.DeviceAuthorizationURL() {
		t.Errorf("profile = %s, want the device flow and its discovered endpoint", raw)
	}
	checkRotatingSession(t, c, srv, flowDevice, srv.IssuerURL())
	r := c.must(exitReauth, "", nil, "get", srv.APIURL("/profile"))
	if !strings.Contains(r.stderr, "device login runs only in the foreground") {
		t.Errorf("get without a session, in a pipe: %q", r.stderr)
	}
	if st := srv.Counters(); st.DeviceCodes != 1 {
		t.Errorf("%d device codes, want 1: a device login started in a pipe", st.DeviceCodes)
	}
}

// TestE2EDeviceFlowInterrupted: Ctrl-C while the device login polls stops
// it at once (exit 130, one line), and nothing is saved.
func TestE2EDeviceFlowInterrupted(t *testing.T) {
	t.Parallel()
	srv := startIssuer(t, authtest.Options{PublicClient: true, DeviceInterval: 5 * time.Second})
	c := newCLI(t)
	p := c.start("", nil, "login", "--issuer", srv.IssuerURL(), "--client-id", e2eClientID, "--flow", "device", "--store", "file")
	waitForLine(t, p, regexp.MustCompile(`(?m)^and enter the code: (\S+)$`))
	if code := p.signal(t, syscall.SIGINT); code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130; stderr: %s", code, p.stderr.String())
	}
	if got := p.stderr.String(); !strings.HasSuffix(got, "tokenrefresh login: interrupted\n") {
		t.Errorf("stderr = %q, want it to end with one line saying it was interrupted", got)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "profiles", "default.json")); !os.IsNotExist(err) {
		t.Errorf("a profile was saved by an interrupted login (%v)", err)
	}
}

// TestE2EClientCredentials: a job with no user logs in with the client
// credentials (the secret from TOKENREFRESH_CLIENT_SECRET, or from the
// file whose path the profile keeps); there is no refresh token, and a new
// token is fetched when the server rejects the old one or it expires.
func TestE2EClientCredentials(t *testing.T) {
	t.Parallel()
	srv := startIssuer(t, authtest.Options{AccessTTL: time.Second})
	c := newCLI(t)
	secretFile := filepath.Join(c.dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(e2eClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	login := []string{"login", "--issuer", srv.IssuerURL(), "--client-id", e2eClientID, "--flow", "client-credentials", "--store", "file"}
	r := c.must(exitError, "", nil, login...)
	if !strings.Contains(r.stderr, "TOKENREFRESH_CLIENT_SECRET") {
		t.Errorf("login without a secret: %q, want a hint at the secret", r.stderr)
	}
	c.must(exitOK, "", []string{"TOKENREFRESH_CLIENT_SECRET=" + e2eClientSecret}, append(login, "--profile", "env")...)
	r = c.must(exitOK, "", nil, append(login, "--client-secret-file", secretFile)...)
	if !strings.Contains(r.stdout, "with the client credentials") {
		t.Errorf("login stdout = %q", r.stdout)
	}
	raw, p := readProfile(t, c, "default")
	if strings.Contains(raw, e2eClientSecret) || p.ClientSecretFile != secretFile || p.Flow != flowClientCredentials {
		t.Errorf("profile = %s, want the client-credentials flow, the secret's path and no secret", raw)
	}
	if st := srv.Counters(); st.ClientCredentials != 2 || st.Logins != 0 {
		t.Errorf("server %+v, want 2 client-credentials tokens and no login", st)
	}
	status := c.must(exitOK, "", nil, "status").stdout
	if !strings.Contains(status, "client-credentials") || !strings.Contains(status, "Refresh token:  none") {
		t.Errorf("status:\n%s\nwant the flow and no refresh token", status)
	}
	// A 401: the transport gets a new token with the client credentials.
	before := srv.Counters()
	srv.RevokeAccessTokens()
	c.must(exitOK, "", nil, "get", srv.APIURL("/items"))
	after := srv.Counters()
	if after.ClientCredentials <= before.ClientCredentials || after.Unauthorized != before.Unauthorized+1 {
		t.Errorf("after a 401: server %+v (before %+v), want a 401 and a new client-credentials token", after, before)
	}
	// Expiry (1 s tokens): the next command gets a new one, with no 401.
	time.Sleep(1100 * time.Millisecond)
	c.must(exitOK, "", nil, "get", srv.APIURL("/items"))
	if st := srv.Counters(); st.ClientCredentials <= after.ClientCredentials || st.Unauthorized != after.Unauthorized ||
		st.Refreshes != 0 || st.Logins != 0 {
		t.Errorf("after expiry: server %+v (before %+v), want a new client-credentials token, no 401, no refresh, no login", st, after)
	}
	revocations := srv.Counters().Revocations
	if out := c.must(exitOK, "", nil, "logout").stdout; !strings.Contains(out, "revoked on the server") {
		t.Errorf("logout: %q", out)
	}
	if st := srv.Counters(); st.Revocations != revocations+1 {
		t.Errorf("server revocations %d, want %d", st.Revocations, revocations+1)
	}
}

// TestE2ERefreshTokenStdin: a session obtained elsewhere (here a password
// login by another program) starts a profile from its refresh token on
// stdin, with --issuer or --token-url; the first refresh proves it and
// rotates it, and the session goes on as any other. A refresh token the
// server refuses fails the login and saves nothing.
func TestE2ERefreshTokenStdin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		args     func(srv *authtest.Server) []string
		wantFlow string
		issuer   bool
	}{
		{"issuer", func(srv *authtest.Server) []string { return []string{"--issuer", srv.IssuerURL()} }, flowDevice, true},
		{"token url", func(srv *authtest.Server) []string {
			return []string{"--token-url", srv.TokenURL(), "--revoke-url", srv.RevokeURL()}
		}, flowRefreshToken, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startIssuer(t, authtest.Options{})
			c := newCLI(t)
			c.env = append(c.env, "TOKENREFRESH_CLIENT_SECRET="+e2eClientSecret)
			elsewhere := &tokensource.PasswordGrant{TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
				Username: srv.User, Password: srv.Password, HTTPClient: srv.Client()}
			tok, err := elsewhere.Login(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			login := append(append([]string{"login"}, tc.args(srv)...), "--client-id", e2eClientID, "--refresh-token-stdin", "--store", "file")

			r := c.must(exitError, "rt_not-a-token\n", nil, login...)
			if !strings.Contains(r.stderr, "refused the refresh token from stdin") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("a bad refresh token: stderr = %q, want one line saying it was refused", r.stderr)
			}
			if _, err := os.Stat(filepath.Join(c.dir, "profiles", "default.json")); !os.IsNotExist(err) {
				t.Errorf("a refused refresh token saved a profile (%v)", err)
			}

			r = c.must(exitOK, tok.RefreshToken+"\n", nil, login...)
			if !strings.Contains(r.stdout, "with a refresh token from stdin") {
				t.Errorf("login stdout = %q", r.stdout)
			}
			if st := srv.Counters(); st.Refreshes != 1 || st.Logins != 1 || st.FailedRefreshes != 1 {
				t.Errorf("server %+v, want the other program's login, then one refused and one good refresh", st)
			}
			raw, p := readProfile(t, c, "default")
			if strings.Contains(raw, tok.RefreshToken) || p.Flow != tc.wantFlow || (p.Issuer != "") != tc.issuer {
				t.Errorf("profile = %s, want flow %s and no token", raw, tc.wantFlow)
			}
			issuer := ""
			if tc.issuer {
				issuer = srv.IssuerURL()
			}
			checkRotatingSession(t, c, srv, tc.wantFlow, issuer)
		})
	}
}

// wait waits (boundedly) for p to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("still running after 60s; stderr: %s", p.stderr.String())
	}
	if p.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		t.Fatalf("wait: %v", p.err)
	}
	return ee.ExitCode()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitForLine waits (boundedly) until p's stderr matches re, and returns
// the first submatch.
func waitForLine(t *testing.T, p *proc, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("exited (%v) before stderr matched %s; stderr: %q", p.err, re, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr never matched %s: %q", re, p.stderr.String())
		}
	}
}

// debugCall POSTs to a debug endpoint of srv as another process would, and
// fails the test unless it answers 204.
func debugCall(t *testing.T, srv *authtest.Server, path string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(authtest.DebugHeader, "1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST %s: %s %s", path, resp.Status, body)
	}
}
