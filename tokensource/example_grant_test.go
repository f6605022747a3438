package tokensource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// ExamplePasswordGrant logs in to an RFC 6749 token endpoint with the
// password grant and refreshes; a server that answers invalid_grant leads
// to ErrReauthRequired.
func ExamplePasswordGrant() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("refresh_token") == "rt-spent" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"at-1","token_type":"bearer","expires_in":"300","refresh_token":"rt-1","refresh_expires_in":1800}`)
	}))
	defer srv.Close()

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := &tokensource.PasswordGrant{
		TokenURL: srv.URL, // http:// is accepted for loopback hosts only
		ClientID: "cli", ClientSecret: "s3cret", AuthStyle: tokensource.AuthBasic,
		Username: "alice",
		PasswordFunc: func(context.Context) (string, error) {
			return "wonderland", nil // e.g. read from a terminal prompt
		},
		Now: func() time.Time { return now },
	}
	ctx := context.Background()
	tok, err := g.Login(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.Type(), tok.Expiry.Sub(now), tok.RefreshExpiry.Sub(now))

	_, err = g.Refresh(ctx, "rt-spent")
	fmt.Println(errors.Is(err, tokensource.ErrReauthRequired))
	// Output:
	// Bearer 5m0s 30m0s
	// true
}

// ExampleJSONGrant talks to an in-house JSON API whose answers use
// camelCase names inside a "data" envelope; the refresh request follows the
// style of the login response.
func ExampleJSONGrant() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":{"accessToken":"at-1","refreshToken":"rt-1","expiresIn":900,"refreshExpiresIn":43200}}`)
	})
	mux.HandleFunc("POST /auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		json.NewDecoder(r.Body).Decode(&req)
		fmt.Println("refresh request fields:", len(req), req["refreshToken"] != "")
		fmt.Fprint(w, `{"data":{"accessToken":"at-2","refreshToken":"rt-2","expiresAt":"2026-01-01T00:30:00Z"}}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := &tokensource.JSONGrant{
		LoginURL:   srv.URL + "/auth/login",
		RefreshURL: srv.URL + "/auth/refresh",
		Username:   "alice",
		Password:   "wonderland",
		Header:     http.Header{"X-Client": {"example"}},
		Now:        func() time.Time { return now },
	}
	ctx := context.Background()
	tok, err := g.Login(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("login:", tok.Expiry.Sub(now), tok.RefreshExpiry.Sub(now))
	tok, err = g.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("refresh:", tok.Expiry.Sub(now), tok) // a Token prints redacted
	// Output:
	// login: 15m0s 12h0m0s
	// refresh request fields: 1 true
	// refresh: 30m0s Token{type=Bearer access=<redacted> refresh=<redacted> expiry=2026-01-01T00:30:00Z}
}
