//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// chromiumTestEnv set to "require" makes TestE2EBrowserChromium fail, not
// skip, when no Chromium is installed (.ci/run sets it).
const chromiumTestEnv = "TOKENREFRESH_CHROMIUM_TEST"

// chromiumMarkEnv marks, in their environment, every process of the test's
// browser, so that the test finds (and kills) any that outlive it, even
// one that left the process group: Chromium starts its crash handlers in
// sessions of their own (and --disable-crashpad-for-testing, which would
// keep them away, makes its network service crash).
const chromiumMarkEnv = "TOKENREFRESH_CHROMIUM_MARK"

// findChromium returns the Chromium executable, or skips the test when
// there is none and it is not required.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv(chromiumTestEnv) == "require" {
		t.Fatalf("no chromium in PATH, and %s=require", chromiumTestEnv)
	}
	t.Skipf("no chromium in PATH (install Debian's chromium, as bash .ci/run does; %s=require makes this a failure)", chromiumTestEnv)
	return ""
}

// loginPage is an identity provider's sign-in page in front of authtest's
// authorization endpoint, which approves at once and has no page of its
// own: a form with the demo user's credentials that a script submits, as a
// password manager would, and a POST that checks them and redirects to the
// authorization endpoint. It counts what the browser did.
type loginPage struct {
	srv *authtest.Server // set once the server has started

	mu sync.Mutex // guards the counters
	// views and submits count GETs of the page and POSTs of its form by
	// Chromium (its User-Agent says HeadlessChrome); others counts any
	// other client.
	views, submits, others int
}

var loginPageHTML = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to authtest</title></head>
<body><h1>Sign in</h1>
<form method="post" action="/login">
<input type="hidden" name="query" value="{{.}}">
<label>User <input name="username" value="alice"></label>
<label>Password <input type="password" name="password" value="wonderland"></label>
<button type="submit">Sign in</button>
</form>
<script>document.forms[0].submit()</script>
</body></html>
`))

func (l *loginPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/login" {
		http.NotFound(w, r) // a favicon, say
		return
	}
	l.mu.Lock()
	switch {
	case !strings.Contains(r.UserAgent(), "HeadlessChrome"):
		l.others++
	case r.Method == http.MethodGet:
		l.views++
	case r.Method == http.MethodPost:
		l.submits++
	}
	l.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPageHTML.Execute(w, r.URL.RawQuery)
	case http.MethodPost:
		if r.PostFormValue("username") != l.srv.User || r.PostFormValue("password") != l.srv.Password {
			http.Error(w, "wrong user or password", http.StatusForbidden)
			return
		}
		http.Redirect(w, r, l.srv.AuthorizationURL()+"?"+r.PostFormValue("query"), http.StatusFound)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (l *loginPage) counts() (views, submits, others int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.views, l.submits, l.others
}

// TestE2EBrowserChromium runs the browser flow with a real browser: BROWSER
// is a script that runs headless Chromium on the authorization URL (with
// --dump-dom, which prints the page it ends on once it has loaded). Chromium
// loads the provider's sign-in page, runs its script, posts the form,
// follows the redirect to the authorization endpoint and from there to the
// CLI's loopback listener, and shows its success page; the login then
// completes. The browser runs in the CLI's process group, which is killed
// on every path, and no process of it may outlive the test.
func TestE2EBrowserChromium(t *testing.T) {
	t.Parallel()
	chromium := findChromium(t)
	page := &loginPage{}
	front := httptest.NewServer(page)
	t.Cleanup(front.Close)
	srv := authtest.NewServer(t, authtest.Options{ClientID: e2eClientID, PublicClient: true,
		MutateDiscovery: func(doc map[string]any) { doc["authorization_endpoint"] = front.URL + "/login" }})
	page.srv = srv

	dir := t.TempDir()
	dom := filepath.Join(dir, "dom.html")
	chromiumLog := filepath.Join(dir, "chromium.log")
	wrapper := filepath.Join(dir, "browser")
	script := fmt.Sprintf(`#!/bin/sh
# BROWSER for TestE2EBrowserChromium: headless Chromium on the URL ($1),
# the page it ends on written to dom.html.
exec %s --headless --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir=%s --dump-dom "$1" >%s 2>%s
`, shellQuote(chromium), shellQuote(filepath.Join(dir, "profile")), shellQuote(dom), shellQuote(chromiumLog))
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}

	c := newCLI(t)
	mark := chromiumMarkEnv + "=" + dir
	cmd := exec.Command(c.bin, "login", "--issuer", srv.IssuerURL(), "--client-id", e2eClientID, "--flow", "browser",
		"--store", "file", "--timeout", "2m")
	cmd.Env = append(append([]string{}, c.env...), "BROWSER="+wrapper, mark)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, which the browser it starts joins: killed
	// as a whole at the end, whatever happened.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Errorf("tokenrefresh login still running 30s after SIGKILL")
		}
		killMarked(t, mark)
	})
	// What Chromium said, when something went wrong.
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(chromiumLog)
			t.Logf("tokenrefresh stderr:\n%s\nchromium log (end):\n%s", stderr.String(), tail(b, 2000))
		}
	}()

	var err error
	select {
	case err = <-exited:
		exited <- err // for the cleanup
	case <-time.After(150 * time.Second):
		t.Fatalf("login still running after 150s")
	}
	t.Logf("login with Chromium took %v", time.Since(started).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if !strings.Contains(stdout.String(), "with a browser login") {
		t.Errorf("login stdout = %q", stdout.String())
	}
	shown := waitForFile(t, dom, "</html>")
	if !strings.Contains(shown, "<h1>Logged in</h1>") || !strings.Contains(shown, "You can close this window") {
		t.Errorf("Chromium ended on %q, want the loopback listener's success page", tail([]byte(shown), 600))
	}
	views, submits, others := page.counts()
	if views != 1 || submits != 1 || others != 0 {
		t.Errorf("sign-in page: %d views and %d form posts by Chromium, %d requests by others; want 1, 1, 0", views, submits, others)
	}
	if st := srv.Counters(); st.AuthorizationCodes != 1 || st.Logins != 1 {
		t.Errorf("server: %d authorization codes, %d logins; want 1 and 1", st.AuthorizationCodes, st.Logins)
	}
	// The session works: the token is accepted by the API.
	if r := c.must(exitOK, "", nil, "get", srv.APIURL("/profile")); !strings.Contains(r.stdout, `"alice"`) {
		t.Errorf("get = %q, want alice's profile", r.stdout)
	}
	// Chromium exits once it has printed the page: nothing of it remains.
	if left := waitUnmarked(mark, 30*time.Second); len(left) > 0 {
		t.Errorf("browser processes still running 30s after the login: %v", left)
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// waitForFile waits (boundedly) until the file at path contains want, and
// returns its contents.
func waitForFile(t *testing.T, path, want string) string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(want)) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never contained %q (%v): %q", path, want, err, tail(b, 600))
		}
	}
}

// markedProcesses returns the live (not zombie) processes whose
// environment holds mark.
func markedProcesses(mark string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), []byte("\x00"+mark+"\x00")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue // gone, or a zombie its new parent has yet to reap
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitUnmarked waits up to d for every process marked with mark to end,
// and returns those still running then.
func waitUnmarked(mark string, d time.Duration) []int {
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		left := markedProcesses(mark)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}

// killMarked kills every process marked with mark, and fails the test if
// one survives.
func killMarked(t *testing.T, mark string) {
	t.Helper()
	for _, pid := range markedProcesses(mark) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("kill %d: %v", pid, err)
		}
	}
	if left := waitUnmarked(mark, 10*time.Second); len(left) > 0 {
		t.Errorf("browser processes survived SIGKILL: %v", left)
	}
}
