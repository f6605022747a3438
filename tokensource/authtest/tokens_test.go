package authtest

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

// TestConcurrentFamilies refreshes many families in parallel: every chain
// must rotate cleanly, with no false reuse detection.
func TestConcurrentFamilies(t *testing.T) {
	s := NewServer(t, Options{})
	const families, rounds = 16, 5
	var wg sync.WaitGroup
	errs := make(chan string, families)
	for range families {
		wg.Go(func() {
			_, rt := loginNoFatal(s.URL)
			for range rounds {
				r, err := refreshNoFatal(s.URL, rt)
				if err != nil || r.status != http.StatusOK {
					errs <- "refresh failed"
					return
				}
				rt = r.str("refresh_token")
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := s.Counters()
	if st.Refreshes != families*rounds || st.Reuses != 0 || st.ActiveFamilies != families {
		t.Errorf("Counters() = %+v, want %d refreshes, no reuse, %d families", st, families*rounds, families)
	}
}

// TestRaceSameRefreshToken presents one refresh token from two goroutines
// at once: exactly one wins, the other is a reuse, and the family (the
// winner's new pair included) is revoked.
func TestRaceSameRefreshToken(t *testing.T) {
	s := NewServer(t, Options{})
	const rounds = 20
	for i := range rounds {
		_, rt := login(t, s.URL)
		var wg sync.WaitGroup
		results := make([]reply, 2)
		start := make(chan struct{})
		for j := range results {
			wg.Go(func() {
				<-start
				results[j], _ = refreshNoFatal(s.URL, rt)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		var winner reply
		for _, r := range results {
			switch {
			case r.status == http.StatusOK:
				wins++
				winner = r
			case r.str("error_description") != reasonReused:
				t.Fatalf("round %d: loser got %d %s, want reuse", i, r.status, r.body)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", i, wins)
		}
		if got := get(t, s.URL, "/api/profile", winner.str("access_token")); got.status != http.StatusUnauthorized {
			t.Errorf("round %d: winner's access token = %d, want 401 (family revoked)", i, got.status)
		}
	}
	if st := s.Counters(); st.Reuses != rounds || st.ActiveFamilies != 0 {
		t.Errorf("Counters() = %+v, want %d reuses, no active family", st, rounds)
	}
}

// TestSweepBoundsMemory logs in and rotates for many simulated hours: the
// store must not keep expired tokens or families.
func TestSweepBoundsMemory(t *testing.T) {
	clk := fakeclock.New(clockStart)
	s := newServer(Options{AccessTTL: time.Minute, RefreshTTL: 10 * time.Minute, Now: clk.Now})
	now := clk.Now
	for i := range 5000 {
		p := s.tokens.login("alice", now(), time.Minute, 10*time.Minute)
		if res := s.tokens.redeem(p.refresh, now(), time.Minute, 10*time.Minute, true); res.reason != "" {
			t.Fatalf("login %d: refresh refused: %s", i, res.reason)
		}
		clk.Advance(time.Second)
	}
	// Alive now: at most 600 seconds of issues (2 access, 2 refresh per
	// second), plus what accumulated since the last sweep.
	a, r, f := s.tokens.size()
	if a > 2000 || r > 2000 || f > 1000 {
		t.Errorf("store holds %d access, %d refresh, %d families after 5000 logins; want bounded by the TTL", a, r, f)
	}
}

// TestLogsNoSecrets runs every token flow with a debug logger and checks
// that no token value or password reached the log.
func TestLogsNoSecrets(t *testing.T) {
	var buf safeBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := NewServer(t, Options{Logger: log, Users: map[string]string{"alice": "pw-SECRET"}})
	r := postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"pw-SECRET"}`)
	at, rt := r.str("access_token"), r.str("refresh_token")
	postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wrong-SECRET"}`)
	get(t, s.URL, "/api/profile", at)
	get(t, s.URL, "/api/profile", "at_bogus-SECRET")
	r2 := refresh(t, s.URL, rt)
	refresh(t, s.URL, rt) // reuse
	postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw-SECRET"}}, s.ClientID, s.ClientSecret)
	postForm(t, s.URL, "/oauth2/revoke", url.Values{"token": {r2.str("refresh_token")}}, s.ClientID, s.ClientSecret)
	s.RevokeAll()
	out := buf.String()
	if !strings.Contains(out, "refresh token reused") {
		t.Fatalf("log lacks the reuse line; got:\n%s", out)
	}
	for _, secret := range []string{at, rt, r2.str("access_token"), r2.str("refresh_token"), "SECRET"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret %q...:\n%s", secret[:4], out)
		}
	}
}

type safeBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
