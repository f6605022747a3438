package transport

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// countingGrant issues numbered tokens and counts token-endpoint calls.
type countingGrant struct {
	mu    sync.Mutex
	seq   int
	calls int
}

func (g *countingGrant) issue() *tokensource.Token {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	g.seq++
	return &tokensource.Token{AccessToken: fmt.Sprintf("at-%d", g.seq), RefreshToken: fmt.Sprintf("rt-%d", g.seq),
		Expiry: time.Now().Add(time.Hour)}
}

func (g *countingGrant) Login(context.Context) (*tokensource.Token, error) { return g.issue(), nil }

func (g *countingGrant) Refresh(context.Context, string) (*tokensource.Token, error) {
	return g.issue(), nil
}

func (g *countingGrant) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// TestAlwaysUnauthorizedCausesNoRefreshStorm: an API that rejects every
// token (a wrong audience, a misconfigured API) costs one renewal, not one
// per request: 1000 requests in a row make at most 2 token-endpoint calls
// (the login and one refresh), and each 401 comes back to its caller.
func TestAlwaysUnauthorizedCausesNoRefreshStorm(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer api.Close()
	g := &countingGrant{}
	src := &tokensource.Source{Grant: g}
	defer src.Close(context.Background())
	var ev events
	src.OnEvent = ev.add
	client := &http.Client{Transport: &Transport{Source: src}}
	for i := range 1000 {
		resp, err := client.Get(api.URL)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: status %d, want the 401", i, resp.StatusCode)
		}
	}
	if got := g.count(); got > 2 {
		t.Fatalf("token-endpoint calls = %d for 1000 requests to an always-401 API, want at most 2", got)
	}
	if got := ev.count(tokensource.EventRequestRejectedAgain); got < 998 {
		t.Fatalf("%s events = %d, want one per suppressed renewal (≥ 998)", tokensource.EventRequestRejectedAgain, got)
	}
}

// TestRevocationIsStillRenewedAtOnce: a token the API accepted before and
// now rejects (revoked) is renewed at once, every time, even right after
// another renewal.
func TestRevocationIsStillRenewedAtOnce(t *testing.T) {
	var mu sync.Mutex
	valid := ""
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := valid != "" && r.Header.Get("Authorization") == "Bearer "+valid
		mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer api.Close()
	g := &countingGrant{}
	src := &tokensource.Source{Grant: g}
	defer src.Close(context.Background())
	client := &http.Client{Transport: &Transport{Source: src}}
	for round := 1; round <= 5; round++ {
		// The server accepts only the next token: the current one is
		// revoked, and the renewal's token is good.
		mu.Lock()
		valid = fmt.Sprintf("at-%d", round+1)
		mu.Unlock()
		for i := range 3 {
			resp, err := client.Get(api.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("round %d request %d: status %d, want 200 after an immediate renewal", round, i, resp.StatusCode)
			}
		}
	}
	if got := g.count(); got != 6 {
		t.Fatalf("token-endpoint calls = %d, want 6 (a login and one renewal per revocation)", got)
	}
}
