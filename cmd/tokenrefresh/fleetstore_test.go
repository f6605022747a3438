package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
)

func TestWithoutPassword(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"postgres://alice:s3cret@db.example.com:5432/tokens?sslmode=verify-full", "postgres://alice@db.example.com:5432/tokens?sslmode=verify-full"},
		{"postgresql://db.example.com/tokens?user=alice&password=s3cret", "postgresql://db.example.com/tokens?user=alice"},
		{"postgres://alice@db.example.com/tokens", "postgres://alice@db.example.com/tokens"},
		{"host=db.example.com user=alice password=s3cret dbname=tokens", "host=db.example.com user=alice dbname=tokens"},
		{"host=db password='s3 cret\\' x' user=alice", "host=db user=alice"},
		{"PASSWORD=s3cret host=db", "host=db"},
		{"redis://:s3cret@cache.example.com:6379/2", "redis://cache.example.com:6379/2"},
		{"rediss://bob:s3cret@cache.example.com:6380", "rediss://bob@cache.example.com:6380"},
		{"redis://cache.example.com:6379", "redis://cache.example.com:6379"},
	} {
		got := withoutPassword(tc.in)
		if strings.Contains(got, "s3") {
			t.Errorf("withoutPassword(%q) = %q: the password is still there", tc.in, got)
		}
		if got != tc.want {
			t.Errorf("withoutPassword(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// fleetCLI logs in with a fleet store through the CLI, then uses the
// session from a second "machine" (another config directory, the same
// store) and logs out there: the first machine's next command needs a
// login. A password in --store-url never reaches the profile.
func fleetCLI(t *testing.T, store, storeURL string) {
	srv := startDemo(t, 0, 0)
	login := []string{"login", "--login-url", srv.URL + "/auth/login", "--refresh-url", srv.URL + "/auth/refresh",
		"--logout-url", srv.URL + "/auth/logout", "--username", "alice", "--password-stdin", "--store", store,
		"--store-url", storeURL}
	a := newTestEnv(t, "wonderland\n")
	if code := a.run(t, login...); code != exitOK {
		t.Fatalf("login --store %s = %d: %s", store, code, a.errOut.String())
	}
	if !strings.Contains(a.out.String(), store) {
		t.Errorf("login output %q does not name the %s store", a.out.String(), store)
	}
	raw, err := os.ReadFile(filepath.Join(a.vars["TOKENREFRESH_CONFIG_DIR"], "profiles", "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "s3cret-PASS") {
		t.Errorf("the profile holds the store URL's password:\n%s", raw)
	}
	var p profile
	if err := json.Unmarshal(raw, &p); err != nil || p.Backend != store || p.StoreURL == "" {
		t.Errorf("profile backend %q, store_url %q (%v); want %s and the URL without its password", p.Backend, p.StoreURL, err, store)
	}

	// The profile's URL is enough for later commands (no password needed
	// by these engines).
	a.out.Reset()
	if code := a.run(t, "get", srv.URL+"/api/profile"); code != exitOK || !strings.Contains(a.out.String(), "alice") {
		t.Fatalf("get = %d: %s %s", code, a.out.String(), a.errOut.String())
	}
	a.out.Reset()
	if code := a.run(t, "status"); code != exitOK || !strings.Contains(a.out.String(), store+" at "+p.StoreURL) {
		t.Errorf("status = %d: %q, want the %s store and where it is", code, a.out.String(), store)
	}
	if strings.Contains(a.out.String()+a.errOut.String(), "s3cret-PASS") {
		t.Errorf("a command printed the store password")
	}

	// Machine B: same profile, its own config directory, the same store.
	b := newTestEnv(t, "")
	if err := os.MkdirAll(filepath.Join(b.vars["TOKENREFRESH_CONFIG_DIR"], "profiles"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.vars["TOKENREFRESH_CONFIG_DIR"], "profiles", "default.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := b.run(t, "get", srv.URL+"/api/profile"); code != exitOK {
		t.Fatalf("get on machine B = %d: %s", code, b.errOut.String())
	}
	if st := srv.Counters(); st.Logins != 1 {
		t.Errorf("server logins = %d, want 1: machine B uses the shared session", st.Logins)
	}
	if code := b.run(t, "logout"); code != exitOK {
		t.Fatalf("logout on machine B = %d: %s", code, b.errOut.String())
	}
	a.errOut.Reset()
	if code := a.run(t, "token"); code != exitReauth {
		t.Errorf("token on machine A after B logged out = %d, want %d: %s", code, exitReauth, a.errOut.String())
	}
}

func TestLoginWithPostgresStore(t *testing.T) {
	u, err := url.Parse(enginetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	// The test cluster trusts loopback: the password is only there to be
	// kept out of the profile.
	u.User = url.UserPassword(u.User.Username(), "s3cret-PASS")
	fleetCLI(t, storePostgres, u.String())
}

func TestLoginWithRedisStore(t *testing.T) {
	fleetCLI(t, storeRedis, enginetest.RedisURL(t))
}

// An unreachable engine is a clean, one-line error without the password.
func TestFleetStoreUnreachable(t *testing.T) {
	srv := startDemo(t, 0, 0)
	for _, tc := range []struct{ store, url string }{
		{storePostgres, "postgres://alice:s3cret-PASS@127.0.0.1:1/tokens?connect_timeout=2"},
		{storeRedis, "redis://:s3cret-PASS@127.0.0.1:1/0"},
	} {
		te := newTestEnv(t, "wonderland\n")
		code := te.run(t, "login", "--login-url", srv.URL+"/auth/login", "--refresh-url", srv.URL+"/auth/refresh",
			"--username", "alice", "--password-stdin", "--store", tc.store, "--store-url", tc.url)
		msg := te.errOut.String()
		if code == exitOK || strings.Count(strings.TrimSpace(msg), "\n") != 0 || strings.Contains(msg, "s3cret") {
			t.Errorf("login with an unreachable %s = %d, stderr %q: want a one-line error without the password", tc.store, code, msg)
		}
	}
	te := newTestEnv(t, "")
	if code := te.run(t, "login", "--login-url", srv.URL+"/auth/login", "--username", "alice", "--store", "file",
		"--store-url", "redis://x"); code != exitUsage {
		t.Errorf("--store-url with the file store = %d, want %d", code, exitUsage)
	}
}
