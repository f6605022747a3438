package tokensource

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/storage/memory"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// ieFlows builds each interactive grant from discovered metadata, after
// requiring the endpoints its flow needs.
var ieFlows = []struct {
	name  string
	needs []string
	grant func(t *testing.T, meta *Metadata, srv *authtest.Server, clk *fakeclock.Clock) Grant
}{
	{"browser", []string{"authorization_endpoint", "token_endpoint"}, func(t *testing.T, meta *Metadata, srv *authtest.Server, clk *fakeclock.Clock) Grant {
		g := acGrant(srv, newACBrowser(srv))
		g.AuthorizationURL, g.TokenURL, g.RevokeURL, g.Now = meta.AuthorizationEndpoint, meta.TokenEndpoint, meta.RevocationEndpoint, clk.Now
		return g
	}},
	{"device", []string{"device_authorization_endpoint", "token_endpoint"}, func(t *testing.T, meta *Metadata, srv *authtest.Server, clk *fakeclock.Clock) Grant {
		g := &DeviceGrant{DeviceAuthorizationURL: meta.DeviceAuthorizationEndpoint, TokenURL: meta.TokenEndpoint,
			RevokeURL: meta.RevocationEndpoint, ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, Scopes: []string{"openid"},
			HTTPClient: srv.Client(), Retry: gFast(), Now: clk.Now}
		g.sleep = func(ctx context.Context, d time.Duration) error {
			clk.Advance(d)
			_ = srv.ApproveDevice("") // the user approves on the first wait
			return ctx.Err()
		}
		return g
	}},
}

// TestInteractiveSessions runs each interactive grant end to end behind a
// Source: discovery, an explicit login, a refresh with rotation, no login
// in the background once the session dies, a second login, and Logout
// revoking through the discovered revocation endpoint.
func TestInteractiveSessions(t *testing.T) {
	for _, flow := range ieFlows {
		t.Run(flow.name, func(t *testing.T) {
			clk := fakeclock.New(gNow())
			srv := authtest.NewServer(t, authtest.Options{Now: clk.Now})
			meta, err := (&Discoverer{HTTPClient: srv.Client(), Retry: gFast()}).Discover(t.Context(), srv.IssuerURL())
			if err != nil {
				t.Fatal(err)
			}
			if err := meta.Require(flow.needs...); err != nil {
				t.Fatal(err)
			}
			g := flow.grant(t, meta, srv, clk)
			src := &Source{Grant: g, Store: &memory.Store{}, Key: "k", Now: clk.Now}
			t.Cleanup(func() { _ = src.Close(context.Background()) })
			ctx := t.Context()

			first, err := src.Login(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if stored, err := src.Stored(ctx); err != nil || stored.IDToken == "" || first.IDToken != stored.IDToken {
				t.Errorf("stored session %v, %v: want the id_token kept", stored, err)
			}
			clk.Advance(authtest.DefaultAccessTTL)
			second, err := src.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
				t.Error("the refresh did not rotate the tokens")
			}
			ieGetProfile(t, srv, second)

			srv.RevokeAll() // the session dies on the server
			clk.Advance(authtest.DefaultAccessTTL)
			if _, err := src.Token(ctx); !errors.Is(err, ErrReauthRequired) {
				t.Errorf("Token() after the session died = %v, want ErrReauthRequired", err)
			}
			if c := srv.Counters(); c.AuthorizationCodes+c.DeviceCodes != 1 {
				t.Errorf("server counters %+v: an interactive login ran in the background", c)
			}
			third, err := src.Login(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Logout(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Refresh(ctx, third.RefreshToken); !errors.Is(err, ErrReauthRequired) {
				t.Errorf("Refresh() after Logout = %v, want the revoked refresh token rejected", err)
			}
			if c := srv.Counters(); c.Logins != 2 || c.Refreshes != 1 || c.Revocations != 2 {
				t.Errorf("server counters %+v, want 2 logins, 1 refresh, 2 revocations (RevokeAll, Logout)", c)
			}
		})
	}
}

// ieGetProfile calls the protected API with tok.
func ieGetProfile(t *testing.T, srv *authtest.Server, tok *Token) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.APIURL("/profile"), nil)
	req.Header.Set("Authorization", tok.AuthorizationValue())
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/profile = %d", resp.StatusCode)
	}
}

// TestInteractiveMissingEndpoints: a server that advertises no
// authorization or device authorization endpoint is refused by Require
// with an error naming the field, before any grant is built.
func TestInteractiveMissingEndpoints(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{MutateDiscovery: func(doc map[string]any) {
		delete(doc, "authorization_endpoint")
		delete(doc, "device_authorization_endpoint")
	}})
	meta, err := (&Discoverer{HTTPClient: srv.Client(), Retry: gFast()}).Discover(t.Context(), srv.IssuerURL())
	if err != nil {
		t.Fatal(err)
	}
	for _, flow := range ieFlows {
		var missing *MissingEndpointError
		if err := meta.Require(flow.needs...); !errors.As(err, &missing) || missing.Field != flow.needs[0] || missing.Issuer != srv.URL {
			t.Errorf("%s: Require(%v) = %v, want a MissingEndpointError for %s", flow.name, flow.needs, err, flow.needs[0])
		}
	}
}

// TestSeedRefreshToken: a session seeded from a refresh token obtained
// elsewhere is refreshed on first use, with no login; a bad one needs a
// login, which an interactive grant never runs by itself.
func TestSeedRefreshToken(t *testing.T) {
	clk := fakeclock.New(gNow())
	srv := authtest.NewServer(t, authtest.Options{Now: clk.Now})
	elsewhere, err := (&PasswordGrant{TokenURL: srv.TokenURL(), ClientID: srv.ClientID, ClientSecret: srv.ClientSecret,
		Username: srv.User, Password: srv.Password, HTTPClient: srv.Client(), Retry: gFast()}).Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	noBrowser := func(context.Context, string) error {
		t.Error("a browser was opened")
		return errors.New("no browser in this test")
	}
	newSource := func(store *memory.Store) *Source {
		g := acGrant(srv, nil)
		g.OpenBrowser, g.Now = noBrowser, clk.Now
		src := &Source{Grant: g, Store: store, Key: "seeded", Now: clk.Now}
		t.Cleanup(func() { _ = src.Close(context.Background()) })
		return src
	}
	ctx := t.Context()

	store := &memory.Store{}
	if err := SeedRefreshToken(ctx, store, "seeded", elsewhere.RefreshToken); err != nil {
		t.Fatal(err)
	}
	src := newSource(store)
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == elsewhere.RefreshToken {
		t.Errorf("Token() = %v, want a refreshed, rotated session", tok)
	}
	ieGetProfile(t, srv, tok)
	if stored, err := src.Stored(ctx); err != nil || stored.RefreshToken != tok.RefreshToken {
		t.Errorf("stored %v, %v: want the rotated refresh token saved", stored, err)
	}
	if c := srv.Counters(); c.Logins != 1 || c.Refreshes != 1 || c.AuthorizationCodes != 0 {
		t.Errorf("server counters %+v, want the one login elsewhere and 1 refresh", c)
	}

	bad := &memory.Store{}
	if err := SeedRefreshToken(ctx, bad, "seeded", "rt_not-issued"); err != nil {
		t.Fatal(err)
	}
	if _, err := newSource(bad).Token(ctx); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("Token() with a bad seed = %v, want ErrReauthRequired", err)
	}

	for name, call := range map[string]func() error{
		"nil store":           func() error { return SeedRefreshToken(ctx, nil, "k", "rt") },
		"typed nil store":     func() error { return SeedRefreshToken(ctx, (*memory.Store)(nil), "k", "rt") },
		"empty key":           func() error { return SeedRefreshToken(ctx, store, "", "rt") },
		"empty refresh token": func() error { return SeedRefreshToken(ctx, store, "k", "") },
	} {
		err := call()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		checkPrefixOnce(t, err)
	}
}
