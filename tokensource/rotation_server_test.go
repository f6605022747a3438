package tokensource

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage/memory"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// faultCase is one way a token endpoint can misbehave around a refresh,
// and what a client that sends each refresh token at most once must see.
type faultCase struct {
	name  string
	opts  func(*authtest.Options)
	grace time.Duration // the grant's ReuseGrace
	// arm sets the fault up just before the refresh; path is the grant's
	// refresh endpoint.
	arm func(ds *authtest.Server, path string)
	// after the refresh:
	wantErr      error // nil: the Token call succeeds
	wantLogins   int64 // logins the server saw, the first one included
	wantMaxSends int64 // the most times one refresh token reached the server
	check        func(t *testing.T, tok *Token, now time.Time)
}

var faultCases = []faultCase{
	{name: "rotate then 504", arm: func(ds *authtest.Server, _ string) { ds.RotateThenFail(1, authtest.Lost504HTML) },
		wantLogins: 2, wantMaxSends: 1},
	{name: "rotate then reset", arm: func(ds *authtest.Server, _ string) { ds.RotateThenFail(1, authtest.LostReset) },
		wantLogins: 2, wantMaxSends: 1},
	{name: "500 then ok", arm: func(ds *authtest.Server, p string) { ds.FailPath(p, 1, authtest.Fault{Status: 500, Body: "oops"}) },
		wantLogins: 2, wantMaxSends: 1},
	{name: "503 with Retry-After then ok", arm: func(ds *authtest.Server, p string) {
		ds.FailPath(p, 2, authtest.Fault{Status: 503, Header: http.Header{"Retry-After": {"1"}}})
	}, wantLogins: 1, wantMaxSends: 1},
	{name: "503 then ok", arm: func(ds *authtest.Server, p string) { ds.FailPath(p, 1, authtest.Fault{Status: 503}) },
		wantLogins: 1, wantMaxSends: 1},
	{name: "429 then ok", arm: func(ds *authtest.Server, p string) { ds.FailPath(p, 1, authtest.Fault{Status: 429}) },
		wantLogins: 1, wantMaxSends: 1},
	{name: "redirect loop", arm: func(ds *authtest.Server, p string) { ds.RedirectPath(p, 1, 307, "") },
		wantLogins: 2, wantMaxSends: 1},
	{name: "expires_in 0", arm: func(ds *authtest.Server, _ string) {
		ds.SetMutateTokenResponse(func(op string, b map[string]any) {
			if op == authtest.OpRefresh {
				b["expires_in"] = 0
			}
		})
	}, wantLogins: 1, wantMaxSends: 1, check: func(t *testing.T, tok *Token, now time.Time) {
		if !tok.Expiry.IsZero() {
			t.Errorf("Expiry = %v, want zero (unknown lifetime: used until a 401)", tok.Expiry)
		}
	}},
	{name: "numeric token_type", arm: func(ds *authtest.Server, _ string) {
		ds.SetMutateTokenResponse(func(op string, b map[string]any) { b["token_type"] = 7 })
	}, wantLogins: 1, wantMaxSends: 1, check: func(t *testing.T, tok *Token, now time.Time) {
		if tok.Type() != "Bearer" {
			t.Errorf("Type() = %q, want Bearer", tok.Type())
		}
	}},
	{name: "server clock 20 min behind, absolute expiries", opts: func(c *authtest.Options) {
		c.ClockOffset, c.ExpiresIn = -20*time.Minute, authtest.ExpiresAtEpoch
	}, wantLogins: 1, wantMaxSends: 1, check: skewCheck(-20 * time.Minute)},
	{name: "server clock 20 min ahead, absolute expiries", opts: func(c *authtest.Options) {
		c.ClockOffset, c.ExpiresIn = 20*time.Minute, authtest.ExpiresAtEpoch
	}, wantLogins: 1, wantMaxSends: 1, check: skewCheck(20 * time.Minute)},
	{name: "reuse grace: one re-send", opts: func(c *authtest.Options) { c.ReuseGrace = 30 * time.Second },
		grace:      30 * time.Second,
		arm:        func(ds *authtest.Server, _ string) { ds.RotateThenFail(1, authtest.LostReset) },
		wantLogins: 1, wantMaxSends: 2},
	{name: "reuse grace: lost twice", opts: func(c *authtest.Options) { c.ReuseGrace = 30 * time.Second },
		grace:      30 * time.Second,
		arm:        func(ds *authtest.Server, _ string) { ds.RotateThenFail(2, authtest.Lost504Empty) },
		wantLogins: 2, wantMaxSends: 2},
}

func skewCheck(skew time.Duration) func(t *testing.T, tok *Token, now time.Time) {
	return func(t *testing.T, tok *Token, now time.Time) {
		if life := tok.Expiry.Sub(now); life < 14*time.Minute || life > 16*time.Minute {
			t.Errorf("access token lives %v, want about 15m", life)
		}
		if tok.ClockSkew != skew {
			t.Errorf("ClockSkew = %v, want %v", tok.ClockSkew, skew)
		}
	}
}

// TestRotationUnderFaults runs every fault against both grants through a
// Source and the authtest server, which revokes the whole family when a spent
// refresh token comes back.
func TestRotationUnderFaults(t *testing.T) {
	for _, grant := range []string{"json", "oauth2"} {
		for _, tc := range faultCases {
			t.Run(grant+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				runFaultCase(t, grant, tc)
			})
		}
	}
}

func runFaultCase(t *testing.T, grantKind string, tc faultCase) {
	clock := newSTClock()
	opts := authtest.Options{Now: clock.Now, ClientID: "cli", ClientSecret: "s3cret"}
	if tc.opts != nil {
		tc.opts(&opts)
	}
	ds := authtest.NewServer(t, opts)
	retry := RetryPolicy{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond, MaxRetryAfter: 5 * time.Millisecond}
	var grant Grant
	path := ds.RefreshURL()
	if grantKind == "json" {
		grant = &JSONGrant{LoginURL: ds.LoginURL(), RefreshURL: path,
			Username: "alice", Password: "wonderland", Now: clock.Now, Retry: retry, ReuseGrace: tc.grace}
	} else {
		path = ds.TokenURL()
		grant = &PasswordGrant{TokenURL: path, ClientID: "cli", ClientSecret: "s3cret",
			Username: "alice", Password: "wonderland", Now: clock.Now, Retry: retry, ReuseGrace: tc.grace}
	}
	src := &Source{Grant: grant, Store: &memory.Store{}, Now: clock.Now}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = src.Close(context.Background()) })

	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("first login: %v", err)
	}
	if tc.arm != nil {
		tc.arm(ds, path)
	}
	clock.Advance(time.Hour) // past the access token's expiry, well inside the refresh token's
	tok, err := src.Token(ctx)
	if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
		t.Fatalf("Token() after the fault = %v, want %v", err, tc.wantErr)
	}
	st := ds.Counters()
	if st.Logins != tc.wantLogins || st.MaxPresentations > tc.wantMaxSends || st.Reuses != 0 {
		t.Errorf("server saw %d logins, one refresh token up to %d times, %d replays; want %d logins, at most %d, 0 replays",
			st.Logins, st.MaxPresentations, st.Reuses, tc.wantLogins, tc.wantMaxSends)
	}
	if tc.check != nil && tok != nil {
		tc.check(t, tok, clock.Now())
	}
	// The session goes on: one more refresh, with no further login.
	ds.SetMutateTokenResponse(nil)
	clock.Advance(2 * time.Hour)
	if tok == nil || !tok.Expiry.IsZero() {
		_, err = src.Token(ctx)
	} else {
		_, err = src.Renew(ctx, tok) // no expiry: renewed on a 401
	}
	if err != nil {
		t.Fatalf("the session did not continue after the fault: %v", err)
	}
	if st := ds.Counters(); st.Logins != tc.wantLogins || st.Reuses != 0 {
		t.Errorf("after one more refresh the server saw %d logins and %d replays, want %d and 0", st.Logins, st.Reuses, tc.wantLogins)
	}
}

// TestRotationKeepsTokenFromAnswerWithoutAccessToken: the server rotates
// and answers without an access token; the new refresh token is saved and
// the next refresh uses it, with no login and no replay.
func TestRotationKeepsTokenFromAnswerWithoutAccessToken(t *testing.T) {
	clock := newSTClock()
	ds := authtest.NewServer(t, authtest.Options{Now: clock.Now})
	store := &memory.Store{}
	src := &Source{Grant: &JSONGrant{LoginURL: ds.LoginURL(), RefreshURL: ds.RefreshURL(),
		Username: "alice", Password: "wonderland", Now: clock.Now}, Store: store, Now: clock.Now}
	t.Cleanup(func() { _ = src.Close(context.Background()) })
	ctx := context.Background()
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds.SetMutateTokenResponse(func(op string, b map[string]any) {
		if op == authtest.OpRefresh {
			delete(b, "access_token")
		}
	})
	clock.Advance(time.Hour)
	if _, err := src.Token(ctx); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("Token() = %v, want ErrMalformedResponse", err)
	}
	stored, err := src.Stored(ctx)
	if err != nil || stored.RefreshToken == first.RefreshToken {
		t.Fatalf("stored %v, %v: the rotated refresh token was dropped", stored, err)
	}
	ds.SetMutateTokenResponse(nil)
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if st := ds.Counters(); st.Logins != 1 || st.Reuses != 0 || st.MaxPresentations != 1 {
		t.Fatalf("server stats %+v: want 1 login, 0 replays, each refresh token sent once", st)
	}
}

// TestLoginWrongPasswordAnswered500SentOnce: a server that answers a wrong
// password with 500 receives it once, not once per retry.
func TestLoginWrongPasswordAnswered500SentOnce(t *testing.T) {
	ds := authtest.NewServer(t, authtest.Options{BadCredentialsStatus: 500})
	for _, g := range []Grant{
		&JSONGrant{LoginURL: ds.LoginURL(), RefreshURL: ds.RefreshURL(), Username: "alice", Password: "wrong"},
		&PasswordGrant{TokenURL: ds.TokenURL(), ClientID: ds.ClientID, ClientSecret: ds.ClientSecret, Username: "alice", Password: "wrong"},
	} {
		before := ds.Counters().LoginRequests
		if _, err := g.Login(context.Background()); err == nil {
			t.Fatal("login with a wrong password succeeded")
		}
		if n := ds.Counters().LoginRequests - before; n != 1 {
			t.Errorf("%T: the server received the password %d times, want 1", g, n)
		}
	}
}
