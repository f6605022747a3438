package tokensource

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// irGrants builds each interactive grant against a peer, for what they
// share with PasswordGrant: Refresh and Revoke.
var irGrants = []struct {
	name string
	mk   func(p *gPeer) Grant
}{
	{"authcode", func(p *gPeer) Grant {
		return &AuthCodeGrant{AuthorizationURL: p.srv.URL + "/authorize", TokenURL: p.srv.URL + "/token",
			RevokeURL: p.srv.URL + "/revoke", ClientID: "cli", ClientSecret: "s3cret",
			HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow}
	}},
	{"device", func(p *gPeer) Grant {
		return &DeviceGrant{DeviceAuthorizationURL: p.srv.URL + "/device", TokenURL: p.srv.URL + "/token",
			RevokeURL: p.srv.URL + "/revoke", ClientID: "cli", ClientSecret: "s3cret",
			HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow}
	}},
}

// TestInteractiveGrantsRefresh: the standard refresh_token grant, as
// PasswordGrant sends it: rotation kept, the old refresh token kept when
// none comes back, an id_token kept, a rejection and an unknown outcome
// told apart, the refresh token sent once, RFC 7009 revocation.
func TestInteractiveGrantsRefresh(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		wantRefresh  string
		wantID       string
		is           []error
		notReauthErr bool
	}{
		{"rotated", 200, `{"access_token":"at-2","refresh_token":"rt-2","id_token":"h.p.s","expires_in":60}`, "rt-2", "h.p.s", nil, false},
		{"not rotated", 200, `{"access_token":"at-2","expires_in":60}`, "rt-1", "", nil, false},
		{"rejected", 400, `{"error":"invalid_grant"}`, "", "", []error{ErrReauthRequired}, false},
		{"outcome unknown", 502, `<html>bad gateway</html>`, "", "", []error{ErrRefreshOutcomeUnknown}, false},
		{"not rejected", 401, `{"error":"invalid_client"}`, "", "", nil, true},
	}
	for _, g := range irGrants {
		for _, tt := range tests {
			t.Run(g.name+"/"+tt.name, func(t *testing.T) {
				p := gServer(t, gReply(tt.status, "application/json", []byte(tt.body)))
				tok, err := g.mk(p).Refresh(t.Context(), "rt-1")
				if p.sent("rt-1") != 1 {
					t.Errorf("the refresh token was sent %d times, want once", p.sent("rt-1"))
				}
				if tt.wantRefresh != "" {
					if err != nil || tok.RefreshToken != tt.wantRefresh || tok.IDToken != tt.wantID {
						t.Fatalf("Refresh() = %v (id %q), %v", tok, tok.IDToken, err)
					}
					form, _ := url.ParseQuery(p.requests()[0].body)
					if form.Get("grant_type") != "refresh_token" {
						t.Errorf("form = %v", form)
					}
					return
				}
				for _, target := range tt.is {
					if !errors.Is(err, target) {
						t.Errorf("Refresh() = %v, want %v", err, target)
					}
				}
				if tt.notReauthErr && (err == nil || errors.Is(err, ErrReauthRequired)) {
					t.Errorf("Refresh() = %v, want an error that is not ErrReauthRequired", err)
				}
				checkPrefixOnce(t, err)
			})
		}
		t.Run(g.name+"/revoke", func(t *testing.T) {
			p := gServer(t, gReply(200, "", nil))
			if err := g.mk(p).(Revoker).Revoke(t.Context(), &Token{AccessToken: "at-1", RefreshToken: "rt-1"}); err != nil {
				t.Fatal(err)
			}
			reqs := p.requests()
			form, _ := url.ParseQuery(reqs[0].body)
			if len(reqs) != 1 || reqs[0].path != "/revoke" || form.Get("token") != "rt-1" || form.Get("token_type_hint") != "refresh_token" {
				t.Errorf("revocation %+v", reqs)
			}
		})
		t.Run(g.name+"/no refresh token", func(t *testing.T) {
			p := gServer(t, gReply(200, "", nil))
			if _, err := g.mk(p).Refresh(t.Context(), ""); !errors.Is(err, ErrNoRefreshToken) {
				t.Errorf("Refresh(\"\") = %v", err)
			}
		})
	}
}

// TestInteractiveGrantsRedact: the grants print without their client
// secret under every fmt verb, slog and encoding/json.
func TestInteractiveGrantsRedact(t *testing.T) {
	p := gServer(t, gReply(200, "", nil))
	for _, g := range irGrants {
		grant := g.mk(p)
		var logs strings.Builder
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("grant", "g", grant)
		js, _ := json.Marshal(grant)
		out := fmt.Sprintf("%v %+v %#v %s %x", grant, grant, grant, grant, grant) + logs.String() + string(js)
		if strings.Contains(out, "s3cret") || !strings.Contains(out, "client_secret=<redacted>") {
			t.Errorf("%s prints %s", g.name, out)
		}
	}
}
