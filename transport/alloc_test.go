package transport

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// staticLogin logs in with a fixed, long-lived token and cannot refresh.
type staticLogin struct{}

func (staticLogin) Login(context.Context) (*tokensource.Token, error) {
	return &tokensource.Token{AccessToken: "t0", TokenType: "bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

func (staticLogin) Refresh(context.Context, string) (*tokensource.Token, error) {
	return nil, tokensource.ErrReauthRequired
}

// TestRoundTripAllocs pins the hot path's cost: a request sent with a
// valid token from a *tokensource.Source costs three allocations (the
// request copy with its header values, and the header map's two), for a
// request with a few headers as for one with many values.
func TestRoundTripAllocs(t *testing.T) {
	src := &tokensource.Source{Grant: staticLogin{}}
	t.Cleanup(func() { src.Close(context.Background()) })
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	var sent *http.Request
	tr := &Transport{Source: src, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r
		return resp, nil
	})}
	for _, n := range []int{0, 1, 2, 5} {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items", nil)
		for i := range n {
			req.Header.Set("X-H"+string(rune('a'+i)), "v")
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := tr.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 3 {
			t.Errorf("RoundTrip with %d headers: %v allocations, want at most 3", n, allocs)
		}
		if got := sent.Header.Get("Authorization"); got != "Bearer t0" || len(sent.Header) != n+1 {
			t.Errorf("RoundTrip with %d headers sent Authorization %q and %d headers", n, got, len(sent.Header))
		}
	}
}
