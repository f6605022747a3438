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
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", now.Format(http.TimeFormat)) // the server's clock
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("refresh_token") == "rt-spent" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"at-1","token_type":"bearer","expires_in":"300","refresh_token":"rt-1","refresh_expires_in":1800}`)
	}))
	defer srv.Close()

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
// style of the login response. The API's clock runs 20 minutes behind ours:
// its absolute expiresAt is read against its Date header, so the token
// still lives the 30 minutes the API meant.
func ExampleJSONGrant() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	serverNow := now.Add(-20 * time.Minute)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", serverNow.Format(http.TimeFormat))
		fmt.Fprint(w, `{"data":{"accessToken":"at-1","refreshToken":"rt-1","expiresIn":900,"refreshExpiresIn":43200}}`)
	})
	mux.HandleFunc("POST /auth/refresh", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]string
		json.NewDecoder(r.Body).Decode(&req)
		fmt.Println("refresh request fields:", len(req), req["refreshToken"] != "")
		w.Header().Set("Date", serverNow.Format(http.TimeFormat))
		fmt.Fprintf(w, `{"data":{"accessToken":"at-2","refreshToken":"rt-2","expiresAt":%q}}`,
			serverNow.Add(30*time.Minute).Format(time.RFC3339))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

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
	fmt.Println("refresh:", tok.Expiry.Sub(now), tok.ClockSkew, tok) // a Token prints redacted
	// Output:
	// login: 15m0s 12h0m0s
	// refresh request fields: 1 true
	// refresh: 30m0s -20m0s Token{type=Bearer access=<redacted> refresh=<redacted> expiry=2026-01-01T00:30:00Z}
}
