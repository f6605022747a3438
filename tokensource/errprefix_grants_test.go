package tokensource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// checkPrefixOnce fails unless err's message starts with "tokensource: "
// and holds it exactly once.
func checkPrefixOnce(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one with the package prefix")
		return
	}
	if msg := err.Error(); !strings.HasPrefix(msg, prefix) || strings.Count(msg, prefix) != 1 {
		t.Errorf("message %q does not carry %q exactly once, at its start", msg, prefix)
	}
}

// checkChainPrefixOnce is checkPrefixOnce for err and for every error of
// this package that err wraps, each on its own (a caller may unwrap one
// with errors.As and print it).
func checkChainPrefixOnce(t *testing.T, err error) {
	t.Helper()
	checkPrefixOnce(t, err)
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if _, ok := e.(barer); ok && e != err {
			checkPrefixOnce(t, e)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, w := range u.Unwrap() {
				walk(w)
			}
		}
	}
	walk(err)
}

// prefixCase is one error path: run returns the error, which must match
// every sentinel in is.
type prefixCase struct {
	name string
	run  func(t *testing.T) error
	is   []error
}

func runPrefixCases(t *testing.T, cases []prefixCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run(t)
			checkChainPrefixOnce(t, err)
			for _, target := range c.is {
				if !errors.Is(err, target) {
					t.Errorf("error %q does not match %q", err, target)
				}
			}
		})
	}
}

// TestGrantErrorsCarryThePrefixOnce drives every error path of the grants
// against loopback token endpoints.
func TestGrantErrorsCarryThePrefixOnce(t *testing.T) {
	unknown := []error{ErrRefreshOutcomeUnknown, ErrReauthRequired}
	reply := func(status int, ctype, body string) func(http.ResponseWriter, *http.Request, int64) {
		return gReply(status, ctype, []byte(body))
	}
	malformed := append([]error{ErrMalformedResponse}, unknown...)
	tooLarge := []error{ErrResponseTooLarge, ErrMalformedResponse}
	answers := []struct {
		name    string
		h       func(http.ResponseWriter, *http.Request, int64)
		refresh []error // sentinels a refresh matches
		login   []error // sentinels a login matches
		revoke  bool    // a revocation fails too
		oauth   bool    // a failure for standard endpoints only
	}{
		{name: "empty body", h: reply(200, "application/json", ""), refresh: malformed, login: malformed[:1]},
		{name: "HTML page", h: reply(200, "text/html", "<!doctype html><html><body>Sign in</body></html>"), refresh: malformed, login: malformed[:1]},
		{name: "invalid JSON", h: reply(200, "application/json", `{"access_token":`), refresh: malformed, login: malformed[:1]},
		{name: "not an object", h: reply(200, "application/json", `["at"]`), refresh: malformed, login: malformed[:1]},
		{name: "no access token", h: reply(200, "application/json", `{"token_type":"bearer"}`), refresh: malformed, login: malformed[:1]},
		{name: "refresh token only", h: reply(200, "application/json", `{"refresh_token":"rt-only"}`), refresh: malformed[:1], login: malformed[:1]},
		{name: "huge body", h: reply(200, "application/json", `{"access_token":"at","pad":"`+strings.Repeat("A", 1<<20)+`"}`),
			refresh: tooLarge, login: tooLarge},
		{name: "redirect", h: func(w http.ResponseWriter, r *http.Request, _ int64) {
			http.Redirect(w, r, "https://elsewhere.example/steal?token=rt-old", http.StatusFound)
		}, refresh: append([]error{ErrRedirect}, unknown...), login: []error{ErrRedirect}, revoke: true},
		{name: "400 invalid_grant", h: reply(400, "application/json", `{"error":"invalid_grant","error_description":"expired"}`),
			refresh: []error{ErrReauthRequired}, login: []error{ErrReauthRequired}, revoke: true},
		{name: "401 invalid_client", h: reply(401, "application/json", `{"error":"invalid_client"}`), revoke: true},
		{name: "500", h: reply(500, "text/html", "<html><body>Internal Server Error</body></html>"), refresh: unknown, revoke: true},
		{name: "501", h: reply(501, "", ""), revoke: true},
		{name: "503", h: reply(503, "application/json", `{"error":"temporarily_unavailable"}`), revoke: true},
		{name: "200 with an error code", h: reply(200, "application/json", `{"access_token":"at","error":"invalid_grant"}`), oauth: true},
		{name: "connection reset", h: func(w http.ResponseWriter, _ *http.Request, _ int64) { gHangUp(w) }, refresh: unknown, revoke: true},
		{name: "unreadable body", h: func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			fmt.Fprint(w, `{"access_token":"at-cut"`)
		}, refresh: unknown},
	}
	var cases []prefixCase
	for _, a := range answers {
		for _, g := range gGrants {
			if a.oauth && g.name == "json" {
				continue // a JSON API's success answer may carry an "error" field
			}
			cases = append(cases,
				prefixCase{a.name + "/" + g.name + "/refresh", func(t *testing.T) error {
					_, err := g.mk(gServer(t, a.h)).Refresh(t.Context(), "rt-old")
					return err
				}, a.refresh},
				prefixCase{a.name + "/" + g.name + "/login", func(t *testing.T) error {
					_, err := g.mk(gServer(t, a.h)).Login(t.Context())
					return err
				}, a.login},
			)
			if a.revoke {
				cases = append(cases, prefixCase{a.name + "/" + g.name + "/revoke", func(t *testing.T) error {
					return g.mk(gServer(t, a.h)).(Revoker).Revoke(t.Context(), &Token{AccessToken: "at-x", RefreshToken: "rt-x"})
				}, nil})
			}
		}
		cases = append(cases, prefixCase{a.name + "/clientcredentials", func(t *testing.T) error {
			p := gServer(t, a.h)
			g := &ClientCredentialsGrant{TokenURL: p.srv.URL + "/token", ClientID: "job", ClientSecret: "s3cret",
				HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow}
			_, err := g.Login(t.Context())
			return err
		}, a.login})
	}
	runPrefixCases(t, cases)
}

// TestGrantRequestErrorsCarryThePrefixOnce covers the failures before or
// instead of an answer: configuration, URLs, credentials, transport and
// context errors.
func TestGrantRequestErrorsCarryThePrefixOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	ours := &TokenError{Op: "prompt", Err: ErrMalformedResponse}
	foreign := errors.New("no terminal")
	login := func(g Grant) func(*testing.T) error {
		return func(t *testing.T) error { _, err := g.Login(t.Context()); return err }
	}
	refresh := func(g Grant) func(*testing.T) error {
		return func(t *testing.T) error { _, err := g.Refresh(t.Context(), "rt-old"); return err }
	}
	cases := []prefixCase{
		{"password/insecure", login(&PasswordGrant{TokenURL: "http://auth.example.com/token", Username: "u", Password: "p"}), []error{ErrInsecureEndpoint}},
		{"json/insecure", refresh(&JSONGrant{RefreshURL: "http://auth.example.com/refresh"}), []error{ErrInsecureEndpoint}},
		{"clientcredentials/insecure", login(&ClientCredentialsGrant{TokenURL: "ftp://auth.example.com/token", ClientID: "job"}), []error{ErrInsecureEndpoint}},
		{"password/revoke insecure", func(t *testing.T) error {
			return (&PasswordGrant{RevokeURL: "http://auth.example.com/revoke"}).Revoke(t.Context(), &Token{RefreshToken: "rt"})
		}, []error{ErrInsecureEndpoint}},
		{"json/no URL", refresh(&JSONGrant{}), nil},
		{"password/invalid URL", refresh(&PasswordGrant{TokenURL: "https://"}), nil},
		{"json/dial refused", refresh(&JSONGrant{RefreshURL: refused + "/refresh", Retry: gFast()}), nil},
		{"password/dial refused", refresh(&PasswordGrant{TokenURL: refused + "/token", Retry: gFast()}), nil},
		{"json/canceled", func(t *testing.T) error {
			_, err := (&JSONGrant{RefreshURL: refused + "/refresh"}).Refresh(canceled, "rt-old")
			return err
		}, []error{context.Canceled}},
		{"password/no username", login(&PasswordGrant{TokenURL: refused}), []error{ErrNoCredentials, ErrReauthRequired}},
		{"json/no password", login(&JSONGrant{LoginURL: refused, Username: "alice"}), []error{ErrNoCredentials, ErrReauthRequired}},
		{"json/prompt fails", login(&JSONGrant{LoginURL: refused, Username: "alice",
			PasswordFunc: func(context.Context) (string, error) { return "", foreign }}), []error{ErrNoCredentials, foreign}},
		{"password/prompt fails with our error", login(&PasswordGrant{TokenURL: refused, Username: "alice",
			PasswordFunc: func(context.Context) (string, error) { return "", ours }}), []error{ErrNoCredentials, ErrMalformedResponse}},
		{"json/no refresh token", func(t *testing.T) error {
			_, err := (&JSONGrant{}).Refresh(t.Context(), "")
			return err
		}, []error{ErrNoRefreshToken, ErrReauthRequired}},
		{"password/no refresh token", func(t *testing.T) error {
			_, err := (&PasswordGrant{}).Refresh(t.Context(), "")
			return err
		}, []error{ErrNoRefreshToken}},
		{"clientcredentials/refresh", refresh(&ClientCredentialsGrant{}), []error{ErrNoRefreshToken}},
		{"clientcredentials/no client id", login(&ClientCredentialsGrant{TokenURL: refused}), nil},
		{"clientcredentials/grant_type param", login(&ClientCredentialsGrant{TokenURL: refused, ClientID: "job",
			EndpointParams: url.Values{"grant_type": {"password"}}}), nil},
		{"clientcredentials/scope param", login(&ClientCredentialsGrant{TokenURL: refused, ClientID: "job",
			Scopes: []string{"read"}, EndpointParams: url.Values{"scope": {"write"}}}), nil},
	}
	runPrefixCases(t, cases)
}

// TestAuthtestErrorsCarryThePrefixOnce: the grants against the fake
// authorization server's own faults.
func TestAuthtestErrorsCarryThePrefixOnce(t *testing.T) {
	password := func(srv *authtest.Server) *PasswordGrant {
		return &PasswordGrant{TokenURL: srv.TokenURL(), RevokeURL: srv.RevokeURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
			Username: "alice", Password: "wonderland", HTTPClient: srv.Client(), Retry: gFast(), Now: gNow}
	}
	cases := []prefixCase{
		{"wrong password", func(t *testing.T) error {
			srv := authtest.NewServer(t, authtest.Options{Now: gNow})
			g := password(srv)
			g.Password = "wrong"
			_, err := g.Login(t.Context())
			return err
		}, []error{ErrReauthRequired}},
		{"wrong client secret", func(t *testing.T) error {
			srv := authtest.NewServer(t, authtest.Options{Now: gNow})
			_, err := (&ClientCredentialsGrant{TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: "wrong",
				HTTPClient: srv.Client(), Retry: gFast()}).Login(t.Context())
			return err
		}, nil},
		{"sign-in page", func(t *testing.T) error {
			srv := authtest.NewServer(t, authtest.Options{Now: gNow})
			g := password(srv)
			tok, err := g.Login(t.Context())
			if err != nil {
				return err
			}
			srv.MalformedNext(1)
			_, err = g.Refresh(t.Context(), tok.RefreshToken)
			return err
		}, []error{ErrMalformedResponse, ErrRefreshOutcomeUnknown}},
		{"rotate then reset", func(t *testing.T) error {
			srv := authtest.NewServer(t, authtest.Options{Now: gNow})
			g := password(srv)
			tok, err := g.Login(t.Context())
			if err != nil {
				return err
			}
			srv.RotateThenFail(1, authtest.LostReset)
			_, err = g.Refresh(t.Context(), tok.RefreshToken)
			return err
		}, []error{ErrRefreshOutcomeUnknown}},
		{"refresh token reused", func(t *testing.T) error {
			srv := authtest.NewServer(t, authtest.Options{Now: gNow})
			g := password(srv)
			tok, err := g.Login(t.Context())
			if err != nil {
				return err
			}
			if _, err := g.Refresh(t.Context(), tok.RefreshToken); err != nil {
				return err
			}
			_, err = g.Refresh(t.Context(), tok.RefreshToken)
			return err
		}, []error{ErrReauthRequired}},
	}
	runPrefixCases(t, cases)
}

// TestDiscoveryErrorsCarryThePrefixOnce drives discovery's error paths and
// Metadata.Require.
func TestDiscoveryErrorsCarryThePrefixOnce(t *testing.T) {
	discover := func(opts authtest.Options, setup func(*authtest.Server), issuer func(*authtest.Server) string) func(*testing.T) error {
		return func(t *testing.T) error {
			srv := authtest.NewServer(t, opts)
			if setup != nil {
				setup(srv)
			}
			iss := srv.IssuerURL()
			if issuer != nil {
				iss = issuer(srv)
			}
			d, _ := dDiscoverer(srv)
			_, err := d.Discover(t.Context(), iss)
			var de *DiscoveryError
			if !errors.As(err, &de) {
				t.Errorf("error %v is not a *DiscoveryError", err)
			}
			return err
		}
	}
	mutate := func(f func(map[string]any)) authtest.Options { return authtest.Options{MutateDiscovery: f} }
	both := func(f func(srv *authtest.Server, path string)) func(*authtest.Server) {
		return func(srv *authtest.Server) {
			for _, p := range []string{oauthPath, oidcPath} {
				f(srv, p)
			}
		}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []prefixCase{
		{"issuer mismatch", discover(mutate(func(doc map[string]any) { doc["issuer"] = "https://evil.example" }), nil, nil), nil},
		{"issuer missing", discover(mutate(func(doc map[string]any) { delete(doc, "issuer") }), nil, nil), nil},
		{"insecure endpoint", discover(mutate(func(doc map[string]any) { doc["token_endpoint"] = "http://auth.example.com/token" }), nil, nil),
			[]error{ErrInsecureEndpoint}},
		{"insecure issuer", discover(authtest.Options{}, nil, func(*authtest.Server) string { return "http://auth.example.com" }),
			[]error{ErrInsecureEndpoint}},
		{"issuer with a password", discover(authtest.Options{}, nil, func(*authtest.Server) string { return "https://bob:hunter22@auth.example.com" }), nil},
		{"relative endpoint", discover(mutate(func(doc map[string]any) { doc["jwks_uri"] = "/keys" }), nil, nil), nil},
		{"wrong field type", discover(mutate(func(doc map[string]any) { doc["grant_types_supported"] = "password" }), nil, nil), nil},
		{"HTML pages", discover(authtest.Options{}, both(func(srv *authtest.Server, p string) {
			srv.FailPath(p, 1, authtest.Fault{Status: http.StatusOK, Body: "<html><body>Sign in</body></html>"})
		}), nil), nil},
		{"redirects", discover(authtest.Options{}, both(func(srv *authtest.Server, p string) {
			srv.RedirectPath(p, 1, http.StatusFound, "https://evil.example/metadata")
		}), nil), nil},
		{"server error", discover(authtest.Options{}, func(srv *authtest.Server) {
			srv.FailPath(oauthPath, 1, authtest.Fault{Status: http.StatusInternalServerError})
		}, nil), nil},
		{"not found twice", discover(authtest.Options{}, both(func(srv *authtest.Server, p string) {
			srv.FailPath(p, 1, authtest.Fault{Status: http.StatusNotFound})
		}), nil), nil},
		{"too large", func(t *testing.T) error {
			var issuer string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"issuer":%q,"pad":"%s"}`, issuer, strings.Repeat("x", 300<<10))
			}))
			t.Cleanup(ts.Close)
			issuer = ts.URL
			_, err := (&Discoverer{HTTPClient: ts.Client()}).Discover(t.Context(), issuer)
			return err
		}, nil},
		{"connection refused", func(t *testing.T) error {
			ts := httptest.NewServer(http.NotFoundHandler())
			ts.Close()
			_, err := (&Discoverer{Retry: gFast()}).Discover(t.Context(), ts.URL)
			return err
		}, nil},
		{"canceled", func(t *testing.T) error {
			_, err := Discover(canceled, "https://auth.example.com")
			return err
		}, []error{context.Canceled}},
		{"Require: nil metadata", func(*testing.T) error { return (*Metadata)(nil).Require("token_endpoint") }, nil},
		{"Require: unknown name", func(*testing.T) error { return (&Metadata{}).Require("token_url") }, nil},
		{"Require: missing endpoint", func(*testing.T) error {
			err := (&Metadata{Issuer: "https://auth.example.com"}).Require("token_endpoint")
			var missing *MissingEndpointError
			if !errors.As(err, &missing) {
				t.Errorf("error %v is not a *MissingEndpointError", err)
			}
			return err
		}, nil},
	}
	runPrefixCases(t, cases)
}

// TestStoredTokenErrorsCarryThePrefixOnce: encoding and decoding stored
// tokens.
func TestStoredTokenErrorsCarryThePrefixOnce(t *testing.T) {
	decode := func(s string) func(*testing.T) error {
		return func(*testing.T) error { _, err := DecodeToken([]byte(s)); return err }
	}
	runPrefixCases(t, []prefixCase{
		{"encode nil", func(*testing.T) error { _, err := EncodeToken(nil); return err }, nil},
		{"encode empty", func(*testing.T) error { _, err := EncodeToken(&Token{}); return err }, nil},
		{"not JSON", decode("tokensource: not JSON"), []error{ErrUnreadableToken}},
		{"truncated", decode(`{"version":1,"access_token":"at`), []error{ErrUnreadableToken}},
		{"wrong type", decode(`{"version":"1"}`), []error{ErrUnreadableToken}},
		{"no version", decode(`{"access_token":"at"}`), []error{ErrUnreadableToken}},
		{"newer version", decode(`{"version":99,"access_token":"at"}`), []error{ErrUnreadableToken, storage.ErrNewerFormat}},
		{"no tokens", decode(`{"version":1}`), []error{ErrUnreadableToken}},
	})
}

// TestGrantErrorValuesCarryThePrefixOnce: the sentinels and error types
// themselves, as a caller who unwraps one prints it.
func TestGrantErrorValuesCarryThePrefixOnce(t *testing.T) {
	values := []error{
		ErrInsecureEndpoint, ErrMalformedResponse, ErrResponseTooLarge, ErrRedirect, ErrNoCredentials,
		ErrUnreadableToken, ErrNoRefreshToken, ErrReauthRequired, ErrRefreshOutcomeUnknown,
		&redirectError{status: 302},
		&redirectError{status: 307, origin: "https://elsewhere.example"},
		&unknownOutcome{},
		&unknownOutcome{cause: ErrMalformedResponse},
		&unknownOutcome{cause: errors.New("EOF")},
		&insecureURLError{field: "issuer", origin: "http://auth.example.com"},
		&IssuerMismatchError{Want: "https://a.example"},
		&IssuerMismatchError{Want: "https://a.example", Got: "https://b.example"},
		&MissingEndpointError{Issuer: "https://a.example", Field: "token_endpoint"},
		&DiscoveryError{Issuer: "https://a.example", Err: &IssuerMismatchError{Want: "https://a.example"}},
		&DiscoveryError{Issuer: "https://a.example", URL: "https://a.example/x", StatusCode: 500, Err: newError("the server failed"), prior: "no RFC 8414 document"},
		&TokenError{},
		&TokenError{Op: "refresh", StatusCode: 200, Err: &unknownOutcome{cause: ErrResponseTooLarge}},
	}
	for _, err := range values {
		t.Run(fmt.Sprintf("%T", err), func(t *testing.T) { checkChainPrefixOnce(t, err) })
	}
}
