package tokensource

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// BenchmarkRefreshVsOAuth2 runs one refresh_token exchange against the
// same loopback token endpoint through golang.org/x/oauth2 and through
// PasswordGrant, side by side: run with
//
//	go test -run '^$' -bench RefreshVsOAuth2 -benchmem -count 6 ./tokensource
//
// and compare the medians of the two sub-benchmarks.
func BenchmarkRefreshVsOAuth2(b *testing.B) {
	body := []byte(`{"access_token":"at-1","token_type":"bearer","expires_in":900,"refresh_token":"rt-1"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
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
