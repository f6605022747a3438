package transport_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tokenrefresh/tokenrefresh/internal/benchpair"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// Run with:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./transport/
//
// Each family compares, on a valid token: the Base alone ("bare"),
// oauth2.Transport over a ReuseTokenSource ("oauth2"), and ours ("ours").

// staticGrant logs in with a fixed, long-lived token and cannot refresh.
type staticGrant struct{}

func (staticGrant) Login(context.Context) (*tokensource.Token, error) {
	return &tokensource.Token{AccessToken: "bench-token", TokenType: "bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

func (staticGrant) Refresh(context.Context, string) (*tokensource.Token, error) {
	return nil, tokensource.ErrReauthRequired
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// benchTransports returns the three contenders over base.
func benchTransports(b *testing.B, base http.RoundTripper) []struct {
	name string
	rt   http.RoundTripper
} {
	b.Helper()
	src := &tokensource.Source{Grant: staticGrant{}}
	b.Cleanup(func() { _ = src.Close(context.Background()) })
	if _, err := src.Token(context.Background()); err != nil { // log in once
		b.Fatal(err)
	}
	oauthTok := &oauth2.Token{AccessToken: "bench-token", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
	return []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", base},
		{"oauth2", &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(oauthTok)), Base: base}},
		{"ours", &transport.Transport{Source: src, Base: base}},
	}
}

// BenchmarkCanned measures the transports' own cost: Base hands back a
// prebuilt response without any I/O.
func BenchmarkCanned(b *testing.B) {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items", nil)
	req.Header.Set("Accept", "application/json")
	for _, c := range benchTransports(b, base) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCannedPaired is BenchmarkCanned as one ratio: oauth2 and ours
// in alternating blocks (see benchpair.Run), so that noise from other work on
// the machine hits both alike. Run with
//
//	go test -run '^$' -bench CannedPaired -count 6 ./transport/
//
// and read the ours/oauth2 metric.
func BenchmarkCannedPaired(b *testing.B) {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items", nil)
	req.Header.Set("Accept", "application/json")
	rts := benchTransports(b, base)
	call := func(rt http.RoundTripper) func() {
		return func() {
			if _, err := rt.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
	}
	benchpair.Run(b, 200, call(rts[1].rt), call(rts[2].rt))
}

// BenchmarkLoopback measures a whole request through http.Client to an
// httptest server on loopback.
func BenchmarkLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(srv.Close)
	base := &http.Transport{}
	b.Cleanup(base.CloseIdleConnections)
	for _, c := range benchTransports(b, base) {
		b.Run(c.name, func(b *testing.B) {
			client := &http.Client{Transport: c.rt}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(srv.URL + "/v1/items")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkStorm measures 1000 concurrent requests right after the server
// revoked every access token: all get 401, exactly one refresh runs, all
// retry with the new token. One op is the whole storm.
func BenchmarkStorm(b *testing.B) {
	s := newSession(b, authtest.Options{})
	base := &http.Transport{MaxIdleConnsPerHost: 1000}
	b.Cleanup(base.CloseIdleConnections)
	client := &http.Client{Transport: &transport.Transport{Source: s.src, Base: base}}
	get := func() int {
		resp, err := client.Get(s.url + "/api/items")
		if err != nil {
			b.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(); st != 200 {
		b.Fatalf("first GET = %d", st)
	}
	const n = 1000
	before := s.demo.Counters().Refreshes
	b.ReportAllocs()
	b.ResetTimer()
	iters := 0
	for b.Loop() {
		iters++
		s.demo.RevokeAccessTokens()
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if st := get(); st != 200 {
					b.Errorf("status %d, want 200", st)
				}
			})
		}
		wg.Wait()
	}
	refreshes := s.demo.Counters().Refreshes - before
	b.ReportMetric(float64(refreshes)/float64(iters), "refreshes/op")
	if refreshes != int64(iters) {
		b.Errorf("%d refreshes for %d storms, want one each", refreshes, iters)
	}
}

// refreshingGrant is a Grant that logs in and refreshes instantly, with
// rotation, and counts its calls.
type refreshingGrant struct {
	mu    sync.Mutex
	calls int
}

func (g *refreshingGrant) issue() *tokensource.Token {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	return &tokensource.Token{AccessToken: "bench-token", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}
}

func (g *refreshingGrant) Login(context.Context) (*tokensource.Token, error) { return g.issue(), nil }
func (g *refreshingGrant) Refresh(context.Context, string) (*tokensource.Token, error) {
	return g.issue(), nil
}

// BenchmarkAlways401 measures 1000 requests in a row to an API that
// rejects every token (a wrong audience, a misconfigured API). One op is
// the 1000 requests; token-calls/op counts token-endpoint calls (oauth2
// makes none: it never renews on 401).
func BenchmarkAlways401(b *testing.B) {
	deny := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusUnauthorized, Request: r, Body: http.NoBody,
			Header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}}}, nil
	})
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/v1/items", nil)
	for _, name := range []string{"oauth2", "ours"} {
		b.Run(name, func(b *testing.B) {
			g := &refreshingGrant{}
			var rt http.RoundTripper
			if name == "oauth2" {
				tok := &oauth2.Token{AccessToken: "bench-token", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
				rt = &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(tok)), Base: deny}
			} else {
				src := &tokensource.Source{Grant: g}
				b.Cleanup(func() { _ = src.Close(context.Background()) })
				rt = &transport.Transport{Source: src, Base: deny}
			}
			b.ReportAllocs()
			ops := 0
			for b.Loop() {
				ops++
				for range 1000 {
					resp, err := rt.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
				}
			}
			b.ReportMetric(float64(g.calls)/float64(ops), "token-calls/op")
		})
	}
}
