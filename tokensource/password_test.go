package tokensource

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPasswordGrantShapes(t *testing.T) {
	tests := []struct {
		file string
		want gWant
	}{
		{"snake.json", gWant{"at-snake", "rt-snake", "Bearer", 900 * time.Second, 12 * time.Hour}},
		{"jwt_only.json", gWant{"jwt", "rt-jwt", "Bearer", 10 * time.Minute, 0}},
		{"no_expiry.json", gWant{"at-opaque", "rt-opaque", "Bearer", 0, 0}},
		{"keycloak.json", gWant{"jwt", "rt-keycloak", "Bearer", 5 * time.Minute, 30 * time.Minute}},
		{"keycloak_offline.json", gWant{"at-offline", "rt-offline", "Bearer", 5 * time.Minute, 0}},
		{"oauth2_no_refresh.json", gWant{"at-norotate", "rt-old", "Bearer", time.Hour, 0}},
		{"absolute_rfc3339.json", gWant{"at-abs", "rt-abs", "Bearer", 15 * time.Minute, 12 * time.Hour}},
		{"absolute_epoch.json", gWant{"at-epoch", "rt-epoch", "Bearer", 15 * time.Minute, 12 * time.Hour}},
	}
	tests = append(tests, gOddShapes...)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := gServer(t, gReply(200, "application/json", gFile(t, tt.file)))
			tok, err := gPassword(p).Refresh(t.Context(), "rt-old")
			if err != nil {
				t.Fatalf("Refresh() error = %v", err)
			}
			gCheckToken(t, tok, tt.want)
		})
	}
	t.Run("form-encoded response", func(t *testing.T) {
		body := []byte("access_token=at-form&token_type=bearer&expires_in=60&refresh_token=rt-form")
		p := gServer(t, gReply(200, "application/x-www-form-urlencoded", body))
		tok, err := gPassword(p).Login(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		gCheckToken(t, tok, gWant{"at-form", "rt-form", "Bearer", time.Minute, 0})
	})
}

func TestPasswordGrantErrors(t *testing.T) {
	for _, c := range gErrorCases {
		t.Run(c.file, func(t *testing.T) {
			ctype := c.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			p := gServer(t, gReply(c.status, ctype, gFile(t, c.file)))
			tok, err := gPassword(p).Refresh(t.Context(), "rt-old")
			if tok != nil {
				t.Errorf("Refresh() token = %v, want nil", tok)
			}
			gCheckError(t, "password", err, c)
			if n := p.hits.Load(); n != 1 {
				t.Errorf("endpoint hits = %d, want 1", n)
			}
		})
	}
}

// TestPasswordGrantInvalidGrantOnce: a rejected refresh token is sent once,
// never again with the client credentials moved (x/oauth2's auto-detection).
func TestPasswordGrantInvalidGrantOnce(t *testing.T) {
	for _, style := range []AuthStyle{AuthBasic, AuthForm} {
		p := gServer(t, gReply(400, "application/json", gFile(t, "error_invalid_grant.json")))
		g := gPassword(p)
		g.AuthStyle = style
		_, err := g.Refresh(t.Context(), "rt-old")
		if !errors.Is(err, ErrReauthRequired) {
			t.Errorf("style %d: Refresh() error = %v, want ErrReauthRequired", style, err)
		}
		if n := p.hits.Load(); n != 1 {
			t.Errorf("style %d: endpoint hits = %d, want exactly 1", style, n)
		}
	}
}

func TestPasswordGrantRequests(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("cli:s3cret"))
	tests := []struct {
		name     string
		style    AuthStyle
		secret   string
		wantAuth string
		wantForm url.Values // client fields expected in every form
	}{
		{"basic", AuthBasic, "s3cret", basic, url.Values{}},
		{"form", AuthForm, "s3cret", "", url.Values{"client_id": {"cli"}, "client_secret": {"s3cret"}}},
		{"public client", AuthBasic, "", "", url.Values{"client_id": {"cli"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/revoke" {
					return
				}
				w.Write(gFile(t, "snake.json"))
			})
			g := gPassword(p)
			g.AuthStyle, g.ClientSecret = tt.style, tt.secret
			tok, err := g.Login(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.Refresh(t.Context(), tok.RefreshToken); err != nil {
				t.Fatal(err)
			}
			if err := g.Revoke(t.Context(), tok); err != nil {
				t.Fatal(err)
			}
			want := []url.Values{
				{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}, "scope": {"openid email"}},
				{"grant_type": {"refresh_token"}, "refresh_token": {"rt-snake"}},
				{"token": {"rt-snake"}, "token_type_hint": {"refresh_token"}},
			}
			reqs := p.requests()
			if len(reqs) != len(want) {
				t.Fatalf("endpoint saw %d requests, want %d", len(reqs), len(want))
			}
			for i, r := range reqs {
				got, err := url.ParseQuery(r.body)
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range tt.wantForm {
					want[i][k] = v
				}
				if diff := cmp.Diff(want[i], got); diff != "" {
					t.Errorf("request %d (%s) form (-want +got):\n%s", i, r.path, diff)
				}
				if r.auth != tt.wantAuth {
					t.Errorf("request %d Authorization = %q, want %q", i, r.auth, tt.wantAuth)
				}
			}
		})
	}
}

func TestPasswordGrantConfigErrorIsNotReauth(t *testing.T) {
	p := gServer(t, gReply(401, "application/json", gFile(t, "error_invalid_client.json")))
	_, err := gPassword(p).Login(t.Context())
	te := gTokenError(t, err)
	if te.Rejected || errors.Is(err, ErrReauthRequired) || te.Code != "invalid_client" {
		t.Errorf("Login() error = %+v, want a non-rejected invalid_client", te)
	}
	p = gServer(t, gReply(400, "application/json", gFile(t, "error_invalid_grant.json")))
	if _, err := gPassword(p).Login(t.Context()); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("Login() with bad password: error = %v, want ErrReauthRequired", err)
	}
}

func TestRevokeNoop(t *testing.T) {
	tok := &Token{AccessToken: "at", RefreshToken: "rt"}
	if err := (&PasswordGrant{}).Revoke(t.Context(), tok); err != nil {
		t.Errorf("PasswordGrant without RevokeURL: Revoke() = %v, want nil", err)
	}
	if err := (&JSONGrant{}).Revoke(t.Context(), tok); err != nil {
		t.Errorf("JSONGrant without LogoutURL: Revoke() = %v, want nil", err)
	}
	p := gServer(t, gReply(503, "", nil))
	err := gPassword(p).Revoke(t.Context(), tok)
	if te := gTokenError(t, err); te.Op != "revoke" || te.StatusCode != 503 {
		t.Errorf("Revoke() against a failing server = %+v, want op revoke status 503", te)
	}
}

func TestPasswordGrantSecondLook(t *testing.T) {
	t.Run("JSON sent as text/plain", func(t *testing.T) {
		p := gServer(t, gReply(200, "text/plain; charset=utf-8", gFile(t, "snake.json")))
		tok, err := gPassword(p).Login(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		gCheckToken(t, tok, gWant{"at-snake", "rt-snake", "Bearer", 900 * time.Second, 12 * time.Hour})
	})
	t.Run("expires_in not a number", func(t *testing.T) {
		p := gServer(t, gReply(200, "application/json", []byte(`{"access_token":"at-x","expires_in":"soon"}`)))
		tok, err := gPassword(p).Login(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		gCheckToken(t, tok, gWant{"at-x", "", "Bearer", 0, 0})
	})
	t.Run("200 with an error code", func(t *testing.T) {
		body := []byte(`{"access_token":"at-x","error":"invalid_grant"}`)
		p := gServer(t, gReply(200, "application/json", body))
		_, err := gPassword(p).Refresh(t.Context(), "rt-old")
		if te := gTokenError(t, err); !te.Rejected || te.Code != "invalid_grant" {
			t.Errorf("Refresh() error = %+v, want a rejected invalid_grant", te)
		}
	})
}
