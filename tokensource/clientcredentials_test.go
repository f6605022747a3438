package tokensource

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/storage/memory"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// ccGrant returns a ClientCredentialsGrant for srv on clock.
func ccGrant(srv *authtest.Server, now func() time.Time) *ClientCredentialsGrant {
	return &ClientCredentialsGrant{
		TokenURL: srv.TokenURL(), RevokeURL: srv.RevokeURL(),
		ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		HTTPClient: srv.Client(), Retry: gFast(), Now: now,
	}
}

func TestClientCredentialsLogin(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow, MutateTokenResponse: func(op string, body map[string]any) {
		body["refresh_token"] = "rt-that-should-not-be-here" // RFC 6749 section 4.4.3: SHOULD NOT
		body["refresh_expires_in"] = 600
	}})
	g := ccGrant(srv, gNow)
	tok, err := g.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" || !tok.RefreshExpiry.IsZero() || tok.Expiry != gNow().Add(authtest.DefaultAccessTTL) {
		t.Errorf("Login() = access %t, refresh %t, expiry %v, refresh expiry %v; want an access token only, expiring in 15m",
			tok.AccessToken != "", tok.RefreshToken != "", tok.Expiry, tok.RefreshExpiry)
	}
	if c := srv.Counters(); c.ClientCredentials != 1 || c.Logins != 0 {
		t.Errorf("server counters %+v, want 1 client credentials token", c)
	}
	if _, err := g.Refresh(t.Context(), "anything"); !errors.Is(err, ErrNoRefreshToken) {
		t.Errorf("Refresh() = %v, want ErrNoRefreshToken", err)
	}
	if err := g.Revoke(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if c := srv.Counters(); c.Revocations != 1 {
		t.Errorf("after Revoke, %d revocations, want 1", c.Revocations)
	}
	if id, want := g.Identity(), strings.ToLower(srv.URL)+" client="+srv.ClientID; id != want {
		t.Errorf("Identity() = %q, want %q", id, want)
	}
}

// TestClientCredentialsRequest checks the wire: the grant, the scope, the
// extra parameters, the client authentication in each style.
func TestClientCredentialsRequest(t *testing.T) {
	tests := []struct {
		name      string
		style     AuthStyle
		secret    string
		wantAuth  bool
		wantField []string // form fields that must be present
	}{
		{"basic", AuthBasic, "s3cret", true, nil},
		{"form", AuthForm, "s3cret", false, []string{"client_id", "client_secret"}},
		{"no secret", AuthBasic, "", false, []string{"client_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gServer(t, gReply(200, "application/json", []byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":60}`)))
			g := &ClientCredentialsGrant{
				TokenURL: p.srv.URL + "/token", ClientID: "job", ClientSecret: tt.secret, AuthStyle: tt.style,
				Scopes: []string{"read", "write"}, EndpointParams: url.Values{"audience": {"https://api.example.com"}},
				HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow,
			}
			if _, err := g.Login(t.Context()); err != nil {
				t.Fatal(err)
			}
			reqs := p.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			form, _ := url.ParseQuery(reqs[0].body)
			if form.Get("grant_type") != "client_credentials" || form.Get("scope") != "read write" || form.Get("audience") != "https://api.example.com" {
				t.Errorf("form = %v", form)
			}
			if got := strings.HasPrefix(reqs[0].auth, "Basic "); got != tt.wantAuth {
				t.Errorf("Basic authentication sent = %t, want %t", got, tt.wantAuth)
			}
			for _, f := range tt.wantField {
				if !form.Has(f) {
					t.Errorf("form lacks %s: %v", f, form)
				}
			}
		})
	}
}

// TestClientCredentialsErrors: configuration errors are refused before any
// request, and no error shows the client secret or a secret parameter.
func TestClientCredentialsErrors(t *testing.T) {
	p := gServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		body, _ := json.Marshal(map[string]string{"error": "invalid_client",
			"error_description": "bad client " + r.Header.Get("Authorization") + " " + r.FormValue("client_assertion")})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(body)
	})
	base := ClientCredentialsGrant{TokenURL: p.srv.URL + "/token", ClientID: "job", ClientSecret: "s3cret-value",
		HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow}

	for _, params := range []url.Values{{"grant_type": {"password"}}, {"client_secret": {"x"}}, {"scope": {"x"}}} {
		g := base
		g.Scopes, g.EndpointParams = []string{"read"}, params
		if _, err := g.Login(t.Context()); err == nil {
			t.Errorf("Login() with EndpointParams %v succeeded", params)
		}
	}
	if _, err := (&ClientCredentialsGrant{TokenURL: base.TokenURL}).Login(t.Context()); err == nil {
		t.Error("Login() without ClientID succeeded")
	}
	if n := len(p.requests()); n != 0 {
		t.Fatalf("%d requests for invalid configurations, want 0", n)
	}

	g := base
	g.EndpointParams = url.Values{"client_assertion": {"assertion-value-123"}}
	_, err := g.Login(t.Context())
	te := gTokenError(t, err)
	if te.Code != "invalid_client" || te.Rejected || errors.Is(err, ErrReauthRequired) {
		t.Errorf("error %v: code %q, rejected %t; want invalid_client, not rejected", err, te.Code, te.Rejected)
	}
	for _, secret := range []string{"s3cret-value", "assertion-value-123"} {
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", te), secret) {
			t.Errorf("error shows %q: %v", secret, err)
		}
	}
	if n := len(p.requests()); n != 1 {
		t.Errorf("%d requests after invalid_client, want 1 (never re-sent)", n)
	}
}

func TestClientCredentialsRedacted(t *testing.T) {
	g := ClientCredentialsGrant{TokenURL: "https://auth.example.com/token", ClientID: "job", ClientSecret: "s3cret-value",
		EndpointParams: url.Values{"client_assertion": {"assertion-value"}, "audience": {"api"}}}
	var log strings.Builder
	slog.New(slog.NewTextHandler(&log, nil)).Info("grant", "g", g, "p", &g)
	js, _ := json.Marshal(g)
	for _, out := range []string{fmt.Sprint(g), fmt.Sprintf("%+v %#v %s %q", g, g, &g, &g), log.String(), string(js)} {
		if strings.Contains(out, "s3cret-value") || strings.Contains(out, "assertion-value") {
			t.Errorf("output shows a secret: %s", out)
		}
		if !strings.Contains(out, "job") {
			t.Errorf("output lacks the client id: %s", out)
		}
	}
	if s := g.String(); !strings.Contains(s, "endpoint_params=audience,client_assertion (values redacted)") {
		t.Errorf("String() = %s", s)
	}
}

// TestClientCredentialsSource: behind a Source, an expired token is
// replaced by one token request however many callers wait, and no refresh
// token is ever stored.
func TestClientCredentialsSource(t *testing.T) {
	clock := fakeclock.New(gNow())
	srv := authtest.NewServer(t, authtest.Options{Now: clock.Now, AccessTTL: time.Minute})
	store := &memory.Store{}
	src := &Source{Grant: ccGrant(srv, clock.Now), Store: store, Now: clock.Now}
	t.Cleanup(func() { _ = src.Close(t.Context()) })
	ctx := t.Context()
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)

	const callers = 1000
	toks := make([]*Token, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { toks[i], errs[i] = src.Token(ctx) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || toks[i] != toks[0] || toks[0] == first {
			t.Fatalf("caller %d: %v, %v; want the one new token", i, toks[i], errs[i])
		}
	}
	if c := srv.Counters(); c.ClientCredentials != 2 {
		t.Errorf("server issued %d client credentials tokens, want 2 (one at start, one after expiry)", c.ClientCredentials)
	}
	b, err := store.Get(ctx, src.key())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := DecodeToken(b)
	if err != nil || stored.RefreshToken != "" || stored.AccessToken != toks[0].AccessToken {
		t.Errorf("stored token %v, %v; want the new access token and no refresh token", stored, err)
	}
}

// TestClientCredentialsSourceWrongSecret: a refused client is reported
// once, not retried, without the secret, and not as a re-login case.
func TestClientCredentialsSourceWrongSecret(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow})
	g := ccGrant(srv, gNow)
	g.ClientSecret = "wrong-secret-value"
	src := &Source{Grant: g, Now: gNow}
	t.Cleanup(func() { _ = src.Close(t.Context()) })
	_, err := src.Token(t.Context())
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_client" || errors.Is(err, ErrReauthRequired) {
		t.Errorf("Token() = %v, want an invalid_client *TokenError that is not ErrReauthRequired", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("error shows the secret: %v", err)
	}
	rejected := 0
	for _, e := range srv.Events() {
		if e.Kind == authtest.EventClientRejected {
			rejected++
		}
	}
	if rejected != 1 {
		t.Errorf("server refused the client %d times, want 1 (no retry)", rejected)
	}
}
