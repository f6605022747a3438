package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

func TestNoProfileIsOneLineError(t *testing.T) {
	te := newTestEnv(t, "")
	if code := te.run(t, "token"); code != exitError {
		t.Fatalf("token without profile = %d, want %d", code, exitError)
	}
	if got := te.errOut.String(); !strings.Contains(got, "run `tokenrefresh login` first") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr = %q, want one line pointing at login", got)
	}
}

func TestExitCode(t *testing.T) {
	rejected := &tokensource.TokenError{Op: "refresh", StatusCode: 401, Rejected: true}
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"plain", errors.New("boom"), exitError},
		{"reauth", fmt.Errorf("transport: token: %w", tokensource.ErrReauthRequired), exitReauth},
		{"no password", fmt.Errorf("x: %w", errNoPassword), exitReauth},
		{"rejected refresh", rejected, exitReauth},
		{"http status", &httpStatusError{url: "u", status: "404 Not Found"}, exitHTTPErr},
		{"coded wins", &codedError{code: exitError, err: rejected}, exitError},
		{"usage", usageErr("bad"), exitUsage},
		{"password rejected", fmt.Errorf("x: %w", errEnvPasswordRejected), exitReauth},
	}
	for _, tc := range cases {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestReadPasswordLine(t *testing.T) {
	cases := []struct {
		in, want string
		wantErr  bool
	}{
		{"secret\n", "secret", false},
		{"secret", "secret", false},
		{"secret\r\nmore\n", "secret", false},
		{" spaced out \n", " spaced out ", false},
		{"\n", "", true},
		{"", "", true},
	}
	for _, tc := range cases {
		got, err := readPasswordLine(strings.NewReader(tc.in))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("readPasswordLine(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), tc.in) && tc.in != "" && tc.in != "\n" {
			t.Errorf("error %q quotes the input", err)
		}
	}
}

func TestProfileRoundTripHasNoSecret(t *testing.T) {
	dir := t.TempDir()
	p := &profile{Mode: modeOAuth2, TokenURL: "https://auth.example.com/token", ClientID: "cli",
		ClientSecretFile: "/etc/secret", Username: "alice", Store: "auto", Backend: "file", Key: "k"}
	if err := saveProfile(dir, "work", p); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "profiles", "work.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("profile mode = %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("profiles dir mode = %v, want 0700", di.Mode().Perm())
	}
	got, err := loadProfile(dir, "work")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*got) != fmt.Sprint(*p) {
		t.Errorf("loadProfile = %+v, want %+v", *got, *p)
	}
	if _, err := loadProfile(dir, "other"); !errors.Is(err, errNoProfile) {
		t.Errorf("loadProfile(missing) = %v, want errNoProfile", err)
	}
}

func TestClientSecretSources(t *testing.T) {
	te := newTestEnv(t, "")
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &profile{Mode: modeOAuth2, ClientSecretFile: file}
	if got, err := te.clientSecret(p); got != "from-file" || err != nil {
		t.Errorf("clientSecret from file = %q, %v", got, err)
	}
	te.vars["TOKENREFRESH_CLIENT_SECRET"] = "from-env"
	if got, err := te.clientSecret(p); got != "from-env" || err != nil {
		t.Errorf("clientSecret from env = %q, %v", got, err)
	}
	delete(te.vars, "TOKENREFRESH_CLIENT_SECRET")
	if err := os.WriteFile(file, []byte("top-secret-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.ClientSecretFile = filepath.Join(t.TempDir(), "missing")
	if _, err := te.clientSecret(p); err == nil {
		t.Error("clientSecret with a missing file: no error")
	}
}

// seedSession saves a profile and a stored token as login would.
func seedSession(t *testing.T, dir string, p *profile, tok *tokensource.Token) {
	t.Helper()
	if err := saveProfile(dir, "default", p); err != nil {
		t.Fatal(err)
	}
	if tok == nil {
		return
	}
	store, _, err := (&env{}).openStore(context.Background(), dir, "file", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tokensource.EncodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), p.Key, data); err != nil {
		t.Fatal(err)
	}
}

// withFate returns tok as a Source would have stored it with the given
// extra record fields (a rejection, an interrupted refresh's intent).
func withFate(t *testing.T, tok *tokensource.Token, field string) *tokensource.Token {
	t.Helper()
	b, err := tokensource.EncodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b[:len(b)-1], ","+field+"}"...)
	marked, err := tokensource.DecodeToken(b)
	if err != nil {
		t.Fatal(err)
	}
	return marked
}

func TestStatusGolden(t *testing.T) {
	const access, refresh = "AT-must-not-appear", "RT-must-not-appear"
	jsonProfile := &profile{Mode: modeJSON, LoginURL: "https://auth.example.com/auth/login",
		RefreshURL: "https://auth.example.com/auth/refresh", Username: "alice",
		Store: "file", Backend: "file", Key: "default/alice@auth.example.com"}
	browserProfile := &profile{Mode: modeOAuth2, Flow: flowBrowser, Issuer: "https://auth.example.com",
		TokenURL: "https://auth.example.com/oauth2/token", AuthorizationURL: "https://auth.example.com/oauth2/authorize",
		RevokeURL: "https://auth.example.com/oauth2/revoke", ClientID: "cli",
		Store: "file", Backend: "file", Key: "default/browser:cli@auth.example.com"}
	clientProfile := &profile{Mode: modeOAuth2, Flow: flowClientCredentials, Issuer: "https://auth.example.com",
		TokenURL: "https://auth.example.com/oauth2/token", ClientID: "job", ClientSecretFile: "/etc/job.secret",
		Store: "file", Backend: "file", Key: "default/client-credentials:job@auth.example.com"}
	cases := []struct {
		name string
		tok  *tokensource.Token
		prof *profile // nil: jsonProfile
	}{
		{"browser-active", &tokensource.Token{AccessToken: access, RefreshToken: refresh,
			Expiry: fixedNow.Add(14*time.Minute + 59*time.Second), RefreshExpiry: fixedNow.Add(12 * time.Hour)}, browserProfile},
		{"browser-login-needed", withFate(t, &tokensource.Token{AccessToken: access, RefreshToken: refresh,
			Expiry: fixedNow.Add(-time.Minute), RefreshExpiry: fixedNow.Add(time.Hour)}, `"refresh_rejected":true`), browserProfile},
		{"client-credentials-expired", &tokensource.Token{AccessToken: access, Expiry: fixedNow.Add(-time.Minute)}, clientProfile},
		{"active", &tokensource.Token{AccessToken: access, RefreshToken: refresh,
			Expiry: fixedNow.Add(14*time.Minute + 59*time.Second), RefreshExpiry: fixedNow.Add(12 * time.Hour)}, nil},
		{"refresh-due", &tokensource.Token{AccessToken: access, RefreshToken: refresh,
			Expiry: fixedNow.Add(-time.Minute), RefreshExpiry: fixedNow.Add(time.Hour)}, nil},
		{"login-needed", &tokensource.Token{AccessToken: access, RefreshToken: refresh,
			Expiry: fixedNow.Add(-2 * time.Hour), RefreshExpiry: fixedNow.Add(-time.Hour)}, nil},
		{"not-logged-in", nil, nil},
		{"rejected", withFate(t, &tokensource.Token{AccessToken: access, RefreshToken: refresh,
			Expiry: fixedNow.Add(10 * time.Minute), RefreshExpiry: fixedNow.Add(time.Hour)}, `"refresh_rejected":true`), nil},
		{"interrupted", withFate(t, &tokensource.Token{AccessToken: access, RefreshToken: refresh,
			Expiry: fixedNow.Add(-time.Minute), RefreshExpiry: fixedNow.Add(time.Hour)}, `"refresh_sent_at":"2026-01-02T15:03:05Z"`), nil},
		{"skewed", &tokensource.Token{AccessToken: access, RefreshToken: refresh, ClockSkew: -20 * time.Minute,
			Expiry: fixedNow.Add(14*time.Minute + 59*time.Second), RefreshExpiry: fixedNow.Add(12 * time.Hour)}, nil},
	}
	for _, tc := range cases {
		for _, asJSON := range []bool{false, true} {
			name := "status-" + tc.name
			args := []string{"status"}
			if asJSON {
				name += "-json"
				args = append(args, "--json")
			}
			t.Run(name, func(t *testing.T) {
				te := newTestEnv(t, "")
				p := tc.prof
				if p == nil {
					p = jsonProfile
				}
				seedSession(t, te.vars["TOKENREFRESH_CONFIG_DIR"], p, tc.tok)
				if code := te.run(t, args...); code != exitOK {
					t.Fatalf("status = %d, stderr: %s", code, te.errOut.String())
				}
				out := te.out.String()
				if strings.Contains(out, access) || strings.Contains(out, refresh) {
					t.Fatalf("status printed a token: %s", out)
				}
				golden(t, name+".golden", out)
			})
		}
	}
}

// TestGetProgress: "get -o FILE" draws a progress bar (bytes of total,
// percent, rate) on a terminal and clears it at the end; never when
// stderr is no terminal, nor with --quiet.
func TestGetProgress(t *testing.T) {
	srv := startDemo(t, 0, 0)
	cases := []struct {
		name     string
		terminal bool
		extra    []string
		want     bool
	}{
		{"terminal", true, nil, true},
		{"pipe", false, nil, false},
		{"quiet", true, []string{"--quiet"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEnv(t, "")
			te.isTerminal = func(f any) bool { return tc.terminal && f == te.stderr }
			te.login(t, srv.URL)
			out := filepath.Join(t.TempDir(), "large.bin")
			args := append([]string{"get", "-o", out, srv.URL + "/api/large?bytes=300000"}, tc.extra...)
			if code := te.run(t, args...); code != exitOK {
				t.Fatalf("get = %d: %s", code, te.errOut.String())
			}
			if fi, err := os.Stat(out); err != nil || fi.Size() != 300000 {
				t.Fatalf("downloaded file: %v, %v; want 300000 bytes", fi, err)
			}
			shown := te.errOut.String()
			if !tc.want {
				if shown != "" {
					t.Errorf("stderr = %q, want nothing", shown)
				}
				return
			}
			for _, want := range []string{"%", "/293 KiB", "/s"} {
				if !strings.Contains(shown, want) {
					t.Errorf("progress %q lacks %q", shown, want)
				}
			}
			// Cleared: the line ends blank, after a carriage return.
			last := shown[strings.LastIndex(strings.TrimRight(shown, "\r"), "\r")+1:]
			if strings.Trim(last, " \r") != "" {
				t.Errorf("progress bar not cleared at the end: %q", shown)
			}
		})
	}
}

func TestGetNeedsReloginExit3(t *testing.T) {
	srv := startDemo(t, time.Second, 2*time.Second)
	te := newTestEnv(t, "wonderland\n")
	if code := te.run(t, "login", "--login-url", srv.URL+"/auth/login", "--refresh-url", srv.URL+"/auth/refresh",
		"--username", "alice", "--password-stdin", "--store", "file"); code != exitOK {
		t.Fatalf("login = %d: %s", code, te.errOut.String())
	}
	srv.RevokeAll()
	te.errOut.Reset()
	code := te.run(t, "get", srv.URL+"/api/profile")
	if code != exitReauth {
		t.Fatalf("get after revocation = %d, want %d; stderr: %s", code, exitReauth, te.errOut.String())
	}
	if got := te.errOut.String(); !strings.Contains(got, "tokenrefresh login") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr = %q, want one line with the login hint", got)
	}
	// With a password in the environment the same command logs in again.
	te.vars["TOKENREFRESH_PASSWORD"] = "wonderland"
	te.out.Reset()
	if code := te.run(t, "get", srv.URL+"/api/profile"); code != exitOK {
		t.Fatalf("get with TOKENREFRESH_PASSWORD = %d: %s", code, te.errOut.String())
	}
	if !strings.Contains(te.out.String(), "alice") {
		t.Errorf("stdout = %q, want alice's profile", te.out.String())
	}
	if st := srv.Counters(); st.Logins != 2 {
		t.Errorf("server logins = %d, want 2 (login, then re-login)", st.Logins)
	}
}

// TestDemoRuns runs the demo with its default lifetimes on a fake clock:
// the demo's pauses move the clock instead of sleeping.
func TestDemoRuns(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, "")
	clock := fakeclock.New(time.Now())
	te.now = clock.Now
	te.sleep = func(ctx context.Context, d time.Duration) error {
		clock.Advance(d)
		return ctx.Err()
	}
	code := te.run(t, "demo", "--burst", "10")
	out := te.out.String()
	if code != exitOK {
		t.Fatalf("demo = %d\nstdout:\n%s\nstderr: %s", code, out, te.errOut.String())
	}
	for _, want := range []string{"login ok", "401 intercepted", "rotated", "burst done: 10 of 10 succeeded",
		"re-login ok", "Summary", "0 failed", "0 refresh-token reuses"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestLogoutWhenRevocationFails(t *testing.T) {
	srv := startDemo(t, 0, 0)
	te := newTestEnv(t, "wonderland\n")
	if code := te.run(t, "login", "--login-url", srv.URL+"/auth/login", "--refresh-url", srv.URL+"/auth/refresh",
		"--logout-url", srv.URL+"/auth/logout", "--username", "alice", "--password-stdin", "--store", "file"); code != exitOK {
		t.Fatalf("login = %d: %s", code, te.errOut.String())
	}
	srv.FailPath(srv.LogoutURL(), 5, authtest.Fault{Status: http.StatusBadRequest, Body: `{"error":"invalid_request"}`})
	te.out.Reset()
	if code := te.run(t, "logout"); code != exitOK {
		t.Fatalf("logout = %d: %s", code, te.errOut.String())
	}
	if !strings.Contains(te.errOut.String(), "warning") || !strings.Contains(te.out.String(), "Logged out") {
		t.Errorf("stdout %q, stderr %q: want a logout line and a revocation warning", te.out.String(), te.errOut.String())
	}
	if code := te.run(t, "token"); code != exitReauth {
		t.Errorf("token after logout = %d, want %d (tokens deleted)", code, exitReauth)
	}
}

// TestGetSendsTheTokenOnlyToTheProfilesAPIs: a mistyped host never receives
// the profile's token; --allow-host lets one call through, --api-url at
// login names the APIs for good.
func TestGetSendsTheTokenOnlyToTheProfilesAPIs(t *testing.T) {
	auth := startDemo(t, 0, 0)
	other := startDemo(t, 0, 0) // another origin (port) on loopback
	te := newTestEnv(t, "")
	te.vars["TOKENREFRESH_PASSWORD"] = "wonderland"
	login := func(extra ...string) {
		t.Helper()
		args := append([]string{"login", "--login-url", auth.URL + "/auth/login", "--refresh-url", auth.URL + "/auth/refresh",
			"--username", "alice", "--store", "file"}, extra...)
		if code := te.run(t, args...); code != exitOK {
			t.Fatalf("login = %d: %s", code, te.errOut.String())
		}
	}
	login()
	otherURL := other.URL + "/api/profile"
	before := other.Counters()
	te.errOut.Reset()
	if code := te.run(t, "get", otherURL); code != exitUsage {
		t.Fatalf("get to another origin = %d, want %d (usage)", code, exitUsage)
	}
	if msg := te.errOut.String(); !strings.Contains(msg, strings.TrimPrefix(other.URL, "http://")) ||
		!strings.Contains(msg, "--allow-host") || strings.Count(msg, "\n") != 1 {
		t.Errorf("stderr = %q, want one line naming the origin and --allow-host", msg)
	}
	if after := other.Counters(); after.Unauthorized+after.Resources != before.Unauthorized+before.Resources {
		t.Fatal("the other origin received a request")
	}
	// Allowed for one call: the other server sees the (foreign) token and
	// answers 401; what matters is that the request went out.
	u, _ := url.Parse(other.URL)
	te.errOut.Reset()
	te.run(t, "get", "--allow-host", u.Host, otherURL)
	if after := other.Counters(); after.Unauthorized+after.Resources == before.Unauthorized+before.Resources {
		t.Fatalf("--allow-host %s did not let the call through: %s", u.Host, te.errOut.String())
	}
	// The profile's own origin works as before.
	if code := te.run(t, "get", auth.URL+"/api/profile"); code != exitOK {
		t.Fatalf("get to the profile's origin = %d: %s", code, te.errOut.String())
	}
	// --api-url at login replaces the default: now only the named API.
	login("--api-url", other.URL+"/api")
	te.errOut.Reset()
	if code := te.run(t, "get", auth.URL+"/api/profile"); code != exitUsage {
		t.Fatalf("get to the auth origin after --api-url elsewhere = %d, want %d", code, exitUsage)
	}
}

// TestLoginOverCorruptAndNewerSessions: a corrupt session no longer blocks
// login (its bytes are kept aside, with a warning); a session written by a
// newer version is never overwritten, and the error says what to do.
func TestLoginOverCorruptAndNewerSessions(t *testing.T) {
	srv := startDemo(t, 0, 0)
	te := newTestEnv(t, "")
	te.vars["TOKENREFRESH_PASSWORD"] = "wonderland"
	dir := te.vars["TOKENREFRESH_CONFIG_DIR"]
	login := func() int {
		return te.run(t, "login", "--login-url", srv.URL+"/auth/login", "--refresh-url", srv.URL+"/auth/refresh",
			"--username", "alice", "--store", "file")
	}
	if code := login(); code != exitOK {
		t.Fatalf("login = %d: %s", code, te.errOut.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tokens", "*.json"))
	if len(files) != 1 {
		t.Fatalf("token files: %v", files)
	}
	if err := os.WriteFile(files[0], []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	te.errOut.Reset()
	if code := login(); code != exitOK {
		t.Fatalf("login over a corrupt session = %d: %s", code, te.errOut.String())
	}
	aside, _ := filepath.Glob(files[0] + ".corrupt-*")
	if len(aside) != 1 || !strings.Contains(te.errOut.String(), aside[0]) {
		t.Fatalf("stderr %q should name the file kept aside (%v)", te.errOut.String(), aside)
	}
	newer := []byte(`{"format":"tokenrefresh-store","version":5,"key":"x"}`)
	if err := os.WriteFile(files[0], newer, 0o600); err != nil {
		t.Fatal(err)
	}
	te.errOut.Reset()
	if code := login(); code == exitOK {
		t.Fatal("login overwrote a session written by a newer version")
	}
	if msg := te.errOut.String(); !strings.Contains(msg, "newer version") || !strings.Contains(msg, "version 5") ||
		!strings.Contains(msg, "log out") || strings.Count(msg, "\n") != 1 {
		t.Errorf("stderr = %q, want one line naming the version and what to do", msg)
	}
	if b, _ := os.ReadFile(files[0]); !bytes.Equal(b, newer) {
		t.Fatal("the newer session was modified")
	}
}
