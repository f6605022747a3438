package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// tokenFiles lists the stored sessions under te's config directory.
func tokenFiles(t *testing.T, te *testEnv) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(te.vars["TOKENREFRESH_CONFIG_DIR"], "tokens", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// waitForOutput waits until buf shows want, or fails the test after a
// generous time.
func waitForOutput(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(buf.String(), want) {
			return
		}
	}
	t.Fatalf("never showed %q; shows %q", want, buf.String())
}

// TestLogoutBoundedWait: logout deletes the local tokens, then waits for
// a server that never answers only as long as its bound, and says so; a
// second logout says there is no session.
func TestLogoutBoundedWait(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	g := newGate(t, srv)
	te := newTestEnv(t, "")
	te.revokeTimeout = 100 * time.Millisecond // 10s in the product
	te.login(t, g.URL)
	g.hang("/auth/logout")
	if code := te.run(t, "logout"); code != exitOK {
		t.Fatalf("logout = %d: %s", code, te.errOut.String())
	}
	if got := te.out.String(); !strings.Contains(got, "tokens deleted") || !strings.Contains(got, "not revoked on the server") {
		t.Errorf("stdout = %q, want the tokens deleted and the session not revoked", got)
	}
	if got := te.errOut.String(); !strings.Contains(got, "no answer from the server within 100ms") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr = %q, want one warning about the server", got)
	}
	if files := tokenFiles(t, te); len(files) != 0 {
		t.Errorf("token files after logout: %v", files)
	}
	te.out.Reset()
	if code := te.run(t, "logout"); code != exitOK || !strings.Contains(te.out.String(), "no session to log out of") {
		t.Errorf("second logout = %d, %q; want 0 and no session", code, te.out.String())
	}
	te.out.Reset()
	if code := te.run(t, "status"); code != exitOK || !strings.Contains(te.out.String(), "Not logged in") {
		t.Errorf("status after logout = %d:\n%s", code, te.out.String())
	}
}

// TestLogoutNoticeThenInterrupt: on a terminal, a logout waiting for the
// server says "revoking on the server…"; by then the local tokens are
// gone, and Ctrl-C ends the wait with 130 and leaves none.
func TestLogoutNoticeThenInterrupt(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	g := newGate(t, srv)
	te := newTestEnv(t, "")
	te.login(t, g.URL)
	g.hang("/auth/logout")
	te.isTerminal = func(f any) bool { return f == te.stderr }
	te.noticeDelay = 0 // a second in the product
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	code := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		code <- te.env.run(ctx, []string{"logout"})
	}()
	g.awaitArrival(t, done)
	waitForOutput(t, &te.errOut, "revoking on the server…")
	if files := tokenFiles(t, te); len(files) != 0 {
		t.Errorf("token files while logout waits for the server: %v", files)
	}
	cancel(&interrupted{sig: os.Interrupt})
	select {
	case c := <-code:
		if c != 130 {
			t.Errorf("logout after Ctrl-C = %d, want 130; stderr: %s", c, te.errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("logout still running 30s after Ctrl-C")
	}
	if files := tokenFiles(t, te); len(files) != 0 {
		t.Errorf("token files after an interrupted logout: %v", files)
	}
}

// TestLoginEndsThePreviousSession: a login over a profile's session
// revokes that session on the server; when the user changed, the old
// session is also deleted from the store.
func TestLoginEndsThePreviousSession(t *testing.T) {
	t.Parallel()
	srv := authtest.NewServer(t, authtest.Options{Users: map[string]string{"alice": "wonderland", "bob": "wonderland"}})
	te := newTestEnv(t, "")
	te.login(t, srv.URL)
	if n := srv.Counters().ActiveFamilies; n != 1 {
		t.Fatalf("active sessions after the first login = %d", n)
	}
	te.vars["TOKENREFRESH_PASSWORD"] = "wonderland"
	if code := te.run(t, "login"); code != exitOK {
		t.Fatalf("second login = %d: %s", code, te.errOut.String())
	}
	if !strings.Contains(te.out.String(), "previous session was revoked") {
		t.Errorf("stdout = %q, want the previous session revoked", te.out.String())
	}
	if st := srv.Counters(); st.ActiveFamilies != 1 || st.Logins != 2 {
		t.Errorf("server: %d active sessions after %d logins, want 1 after 2 (the old one revoked)", st.ActiveFamilies, st.Logins)
	}
	if code := te.run(t, "login", "--username", "bob"); code != exitOK {
		t.Fatalf("login as bob = %d: %s", code, te.errOut.String())
	}
	if st := srv.Counters(); st.ActiveFamilies != 1 {
		t.Errorf("server: %d active sessions after bob's login, want 1", st.ActiveFamilies)
	}
	if files := tokenFiles(t, te); len(files) != 1 {
		t.Errorf("token files after bob's login: %v, want only bob's", files)
	}
	te.out.Reset()
	if code := te.run(t, "status"); code != exitOK || !strings.Contains(te.out.String(), "as bob") {
		t.Errorf("status = %d:\n%s", code, te.out.String())
	}
}

// TestLoginAuthStyle: against a server that takes client credentials
// only in the form body, the default (Basic) login fails and --auth-style
// form works, for the login and for later refreshes.
func TestLoginAuthStyle(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	g := newGate(t, srv)
	g.refuseBasic = true
	te := newTestEnv(t, "")
	te.vars["TOKENREFRESH_PASSWORD"] = "wonderland"
	te.vars["TOKENREFRESH_CLIENT_SECRET"] = e2eClientSecret
	args := []string{"login", "--token-url", g.URL + "/oauth2/token", "--revoke-url", g.URL + "/oauth2/revoke",
		"--client-id", e2eClientID, "--username", "alice", "--store", "file"}
	if code := te.run(t, args...); code != exitError || !strings.Contains(te.errOut.String(), "invalid_client") {
		t.Fatalf("login with Basic against a form-only server = %d, %q; want 1 and invalid_client", code, te.errOut.String())
	}
	if code := te.run(t, append(args, "--auth-style", "form")...); code != exitOK {
		t.Fatalf("login --auth-style form = %d: %s", code, te.errOut.String())
	}
	data, err := os.ReadFile(filepath.Join(te.vars["TOKENREFRESH_CONFIG_DIR"], "profiles", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p profile
	if err := json.Unmarshal(data, &p); err != nil || p.AuthStyle != authStyleForm {
		t.Fatalf("saved profile auth_style = %q, %v; want form", p.AuthStyle, err)
	}
	srv.RevokeAccessTokens() // the next get refreshes
	if code := te.run(t, "get", g.URL+"/api/profile"); code != exitOK {
		t.Fatalf("get = %d: %s", code, te.errOut.String())
	}
	if code := te.run(t, "logout"); code != exitOK || !strings.Contains(te.out.String(), "revoked on the server") {
		t.Fatalf("logout = %d: %s", code, te.errOut.String())
	}
	if basic, form := g.clientAuth(); basic != 1 || form < 3 {
		t.Errorf("client authentications: %d Basic, %d form; want only the first login by Basic, then login, refresh and revocation by form", basic, form)
	}
	if st := srv.Counters(); st.Refreshes != 1 {
		t.Errorf("server refreshes = %d, want 1", st.Refreshes)
	}
}

// TestWrongPassword: a rejected password says so (not "set
// TOKENREFRESH_PASSWORD"), and within one command it is sent once, however
// many requests need a login.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	login := []string{"login", "--login-url", srv.URL + "/auth/login", "--refresh-url", srv.URL + "/auth/refresh",
		"--username", "alice", "--store", "file"}

	t.Run("login --password-stdin", func(t *testing.T) {
		te := newTestEnv(t, "wrong\n")
		if code := te.run(t, append(login, "--password-stdin")...); code != exitError {
			t.Fatalf("login = %d, want %d", code, exitError)
		}
		if got := te.errOut.String(); !strings.Contains(got, "rejected the password for alice at 127.0.0.1:") ||
			!strings.Contains(got, "--password-stdin") || strings.Count(got, "\n") != 1 {
			t.Errorf("stderr = %q, want one line saying the password was rejected", got)
		}
	})
	t.Run("login with TOKENREFRESH_PASSWORD", func(t *testing.T) {
		te := newTestEnv(t, "")
		te.vars["TOKENREFRESH_PASSWORD"] = "wrong"
		if code := te.run(t, login...); code != exitError {
			t.Fatalf("login = %d, want %d", code, exitError)
		}
		if got := te.errOut.String(); !strings.Contains(got, "rejected the password") || !strings.Contains(got, "TOKENREFRESH_PASSWORD") {
			t.Errorf("stderr = %q, want the rejected password named", got)
		}
	})
	t.Run("re-login", func(t *testing.T) {
		te := newTestEnv(t, "")
		te.login(t, srv.URL)
		// The session dies on the server; the stored access token still
		// looks valid, so every request goes out, gets a 401 and needs a
		// login.
		srv.RevokeAll()
		te.vars["TOKENREFRESH_PASSWORD"] = "wrong"
		before := srv.Counters().FailedLogins
		args := []string{"get", "--parallel", "4"}
		for i := range 6 {
			args = append(args, fmt.Sprintf("%s/api/items/%d", srv.URL, i%3+1))
		}
		if code := te.run(t, args...); code != exitReauth {
			t.Fatalf("get = %d, want %d: %s", code, exitReauth, te.errOut.String())
		}
		if n := srv.Counters().FailedLogins - before; n != 1 {
			t.Errorf("the wrong password was sent %d times within one get, want once", n)
		}
		if code := te.run(t, "logout"); code != exitOK {
			t.Fatalf("logout = %d: %s", code, te.errOut.String())
		}
		te.errOut.Reset()
		before = srv.Counters().FailedLogins
		if code := te.run(t, "token"); code != exitReauth {
			t.Fatalf("token = %d, want %d", code, exitReauth)
		}
		got := te.errOut.String()
		if !strings.Contains(got, "rejected the password in TOKENREFRESH_PASSWORD") || strings.Contains(got, "set TOKENREFRESH_PASSWORD") ||
			strings.Count(got, "\n") != 1 {
			t.Errorf("stderr = %q, want one line saying the password was rejected", got)
		}
		if n := srv.Counters().FailedLogins - before; n != 1 {
			t.Errorf("token sent the wrong password %d times, want once", n)
		}
	})
}

// TestGetTimeout: --timeout and TOKENREFRESH_TIMEOUT bound a get whose
// server never answers.
func TestGetTimeout(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, 0, 0)
	g := newGate(t, srv)
	te := newTestEnv(t, "")
	te.login(t, g.URL)
	g.hang("/api/profile")
	for _, tc := range []struct {
		args []string
		env  string
	}{
		{[]string{"get", "--timeout", "50ms", g.URL + "/api/profile"}, ""},
		{[]string{"get", g.URL + "/api/profile"}, "50ms"},
		{[]string{"get", "--timeout=50ms", g.URL + "/api/profile"}, "0"},
	} {
		te.errOut.Reset()
		te.vars["TOKENREFRESH_TIMEOUT"] = tc.env
		if code := te.run(t, tc.args...); code != exitError {
			t.Errorf("%q with TOKENREFRESH_TIMEOUT=%q = %d, want %d", tc.args, tc.env, code, exitError)
		}
		if got := te.errOut.String(); !strings.Contains(got, "gave up after 50ms (--timeout)") || strings.Count(got, "\n") != 1 {
			t.Errorf("stderr = %q, want one line saying it gave up", got)
		}
	}
}

// TestWaitNotice: what a command waits for is said on a terminal once the
// wait is long enough, never elsewhere, never after the wait ended.
func TestWaitNotice(t *testing.T) {
	te := newTestEnv(t, "")
	te.noticeDelay = 0
	te.env.waitNotice("waiting for the pipe")()
	te.isTerminal = func(f any) bool { return f == te.stderr }
	te.noticeDelay = time.Hour
	te.env.waitNotice("never shown")()
	te.noticeDelay = 0
	stop := te.env.waitNotice("waiting for the server…")
	waitForOutput(t, &te.errOut, "waiting for the server…\n")
	stop()
	if got := te.errOut.String(); got != "waiting for the server…\n" {
		t.Errorf("stderr = %q, want only the terminal's notice", got)
	}
}

func TestRoughDuration(t *testing.T) {
	cases := map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 13*time.Minute + 59*time.Second: "13m", 2 * time.Hour: "2h",
		2*time.Hour + 30*time.Minute: "2h30m", 11*time.Hour + 59*time.Minute: "11h", 3 * 24 * time.Hour: "3d",
		3*24*time.Hour + 4*time.Hour: "3d4h", 40 * 24 * time.Hour: "40d",
	}
	for d, want := range cases {
		if got := roughDuration(d); got != want {
			t.Errorf("roughDuration(%v) = %q, want %q", d, got, want)
		}
	}
	now := fixedNow
	past, future := now.Add(-2*time.Hour), now.Add(13*time.Minute)
	if got := describeExpiry(&past, now, ""); got != "expired 2h ago" {
		t.Errorf("describeExpiry(2h ago) = %q", got)
	}
	if got := describeExpiry(&future, now, ""); got != "expires in 13m" {
		t.Errorf("describeExpiry(in 13m) = %q", got)
	}
}
