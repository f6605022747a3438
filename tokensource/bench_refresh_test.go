package tokensource

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tokenrefresh/tokenrefresh/internal/benchpair"
)

// BenchmarkRefreshVsOAuth2 runs one refresh_token exchange against the
// same loopback token endpoint through golang.org/x/oauth2 and through
// PasswordGrant, side by side: run with
//
//	go test -run '^$' -bench RefreshVsOAuth2 -benchmem -count 6 ./tokensource
//
// and compare the medians of the two sub-benchmarks.
func BenchmarkRefreshVsOAuth2(b *testing.B) {
	srv := benchTokenServer(b)
	b.Run("oauth2", func(b *testing.B) {
		b.ReportAllocs()
		cfg := &oauth2.Config{ClientID: "cli", ClientSecret: "s3cret",
			Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
		ctx := context.WithValue(b.Context(), oauth2.HTTPClient, srv.Client())
		for b.Loop() {
			old := &oauth2.Token{RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Hour)}
			if _, err := cfg.TokenSource(ctx, old).Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		// The built-in HTTP client: it reuses a connection for a second
		// (with a caller's HTTPClient each attempt dials anew).
		g := &PasswordGrant{TokenURL: srv.URL + "/token", ClientID: "cli", ClientSecret: "s3cret"}
		ctx := b.Context()
		for b.Loop() {
			if _, err := g.Refresh(ctx, "rt-0"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRefreshPaired is BenchmarkRefreshVsOAuth2 as one ratio: the
// two exchanges in alternating blocks (see benchpair.Run), so that noise from
// other work on the machine hits both alike. Run with
//
//	go test -run '^$' -bench RefreshPaired -count 6 ./tokensource
//
// and read the ours/oauth2 metric.
func BenchmarkRefreshPaired(b *testing.B) {
	srv := benchTokenServer(b)
	cfg := &oauth2.Config{ClientID: "cli", ClientSecret: "s3cret",
		Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}}
	octx := context.WithValue(b.Context(), oauth2.HTTPClient, srv.Client())
	g := &PasswordGrant{TokenURL: srv.URL + "/token", ClientID: "cli", ClientSecret: "s3cret"}
	benchpair.Run(b, 5, func() {
		old := &oauth2.Token{RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Hour)}
		if _, err := cfg.TokenSource(octx, old).Token(); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if _, err := g.Refresh(b.Context(), "rt-0"); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkOutage measures 1000 concurrent callers with an expired token
// while the token endpoint answers 503, after a first shared refresh has
// failed: x/oauth2 sends one token request per caller; ours answers with
// the OutageError at once. One op is the 1000 callers.
func BenchmarkOutage(b *testing.B) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"temporarily_unavailable"}`)
	}))
	b.Cleanup(srv.Close)
	run := func(b *testing.B, call func() error) {
		calls.Store(0)
		b.ReportAllocs()
		ops := 0
		for b.Loop() {
			ops++
			var wg sync.WaitGroup
			for range 1000 {
				wg.Go(func() {
					if call() == nil {
						b.Error("a token during the outage")
					}
				})
			}
			wg.Wait()
		}
		b.ReportMetric(float64(calls.Load())/float64(ops), "token-calls/op")
	}
	b.Run("oauth2", func(b *testing.B) {
		cfg := &oauth2.Config{ClientID: "cli", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
		ctx := context.WithValue(b.Context(), oauth2.HTTPClient, srv.Client())
		ts := oauth2.ReuseTokenSource(nil, cfg.TokenSource(ctx, &oauth2.Token{AccessToken: "a", RefreshToken: "rt", Expiry: time.Now().Add(-time.Hour)}))
		run(b, func() error { _, err := ts.Token(); return err })
	})
	b.Run("ours", func(b *testing.B) {
		now := time.Now()
		src := &Source{
			Grant: &PasswordGrant{TokenURL: srv.URL + "/token", ClientID: "cli", Username: "u", Password: "p",
				Retry: RetryPolicy{MaxAttempts: 1}},
			probeBase: time.Hour, // no background probe during the benchmark
		}
		old := (&Token{AccessToken: "a", RefreshToken: "rt", IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour)}).prepare()
		src.st.Store(&state{tok: old, refreshAt: src.refreshAt(old, now)})
		b.Cleanup(func() { src.Close(context.Background()) })
		if tok, err := src.Token(b.Context()); err == nil { // the first shared refresh fails
			b.Fatalf("no failure: %v", tok)
		}
		ctx := b.Context()
		run(b, func() error { _, err := src.Token(ctx); return err })
	})
}

// BenchmarkRefreshPerStore measures one whole refresh through a Source
// (lock, re-read, reserve, intent, exchange, save, publish) with each
// built-in store (see benchStores: the fleet stores' lock is across
// machines, their intent and save compare-and-set), beside x/oauth2's bare
// exchange (which persists nothing). One op is one refresh.
func BenchmarkRefreshPerStore(b *testing.B) {
	srv := benchTokenServer(b)
	b.Run("oauth2-no-store", func(b *testing.B) {
		b.ReportAllocs()
		cfg := &oauth2.Config{ClientID: "cli", Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
		ctx := b.Context()
		for b.Loop() {
			old := &oauth2.Token{RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Hour)}
			if _, err := cfg.TokenSource(ctx, old).Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, st := range benchStores {
		b.Run("ours-"+st.name, func(b *testing.B) {
			src, tok := benchSource(b, srv, st.store)
			ctx := b.Context()
			var err error
			b.ReportAllocs()
			for b.Loop() {
				src.Accepted(tok) // as the transport reports it
				if tok, err = src.Renew(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchTokenServer is a loopback token endpoint that answers every request
// with the same rotating-looking token answer.
func benchTokenServer(b testing.TB) *httptest.Server {
	body := []byte(`{"access_token":"at-1","token_type":"bearer","expires_in":900,"refresh_token":"rt-1"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}
