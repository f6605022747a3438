package tokensource

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClockSkew: a server whose clock is 20 minutes behind or ahead, with
// 15-minute tokens given as absolute expiries, yields tokens that expire 15
// minutes after receipt, and the skew is recorded, for relative expiries
// too.
func TestClockSkew(t *testing.T) {
	for _, off := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
		serverNow := gNow().Add(off)
		bodies := map[string]string{
			"expires_at rfc3339": fmt.Sprintf(`{"access_token":"at-abs","refresh_token":"rt-abs","expires_at":%q,"refresh_expires_at":%q}`,
				serverNow.Add(15*time.Minute).Format(time.RFC3339), serverNow.Add(12*time.Hour).Format(time.RFC3339)),
			"expiresAt epoch ms": fmt.Sprintf(`{"data":{"accessToken":"at-abs","refreshToken":"rt-abs","expiresAt":%d,"refreshExpiresAt":%d}}`,
				serverNow.Add(15*time.Minute).UnixMilli(), serverNow.Add(12*time.Hour).UnixMilli()),
			"jwt exp": fmt.Sprintf(`{"access_token":%q,"refresh_token":"rt-abs","refresh_token_expires_at":%d}`,
				"at-"+gJWT(fmt.Sprintf(`{"exp":%d}`, serverNow.Add(15*time.Minute).Unix())), serverNow.Add(12*time.Hour).Unix()),
			"expires_in": `{"access_token":"at-abs","refresh_token":"rt-abs","expires_in":900,"refresh_expires_in":43200}`,
		}
		for name, body := range bodies {
			for _, g := range gGrants {
				t.Run(fmt.Sprintf("%v/%s/%s", off, name, g.name), func(t *testing.T) {
					p := gServer(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
						w.Header().Set("Date", serverNow.Format(http.TimeFormat))
						w.Header().Set("Content-Type", "application/json")
						fmt.Fprint(w, body)
					})
					tok, err := g.mk(p).Login(t.Context())
					if err != nil {
						t.Fatal(err)
					}
					if want := gNow().Add(15 * time.Minute); !tok.Expiry.Equal(want) {
						t.Errorf("Expiry = %v, want %v (15 minutes after receipt)", tok.Expiry, want)
					}
					if want := gNow().Add(12 * time.Hour); !tok.RefreshExpiry.Equal(want) {
						t.Errorf("RefreshExpiry = %v, want %v", tok.RefreshExpiry, want)
					}
					if tok.ClockSkew != off {
						t.Errorf("ClockSkew = %v, want %v", tok.ClockSkew, off)
					}
				})
			}
		}
	}
	t.Run("no Date header", func(t *testing.T) {
		// Without the server's clock ours is the reference: an absolute
		// expiry already past by our clock means an unknown lifetime,
		// never a rejected answer.
		p := gServer(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.Header()["Date"] = nil // net/http adds none then
			w.Header().Set("Content-Type", "application/json")
			w.Write(gFile(t, "absolute_skewed.json"))
		})
		for _, g := range gGrants {
			tok, err := g.mk(p).Refresh(t.Context(), "rt-old")
			if err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			gCheckToken(t, tok, gWant{"at-skewed", "rt-skewed", "Bearer", 0, 11*time.Hour + 40*time.Minute})
			if tok.ClockSkew != 0 {
				t.Errorf("%s: ClockSkew = %v without a Date header", g.name, tok.ClockSkew)
			}
		}
	})
	t.Run("recorded, 20 minutes behind", func(t *testing.T) {
		p := gServer(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.Header().Set("Date", gNow().Add(-20*time.Minute).Format(http.TimeFormat))
			w.Header().Set("Content-Type", "application/json")
			w.Write(gFile(t, "absolute_skewed.json"))
		})
		for _, g := range gGrants {
			tok, err := g.mk(p).Refresh(t.Context(), "rt-old")
			if err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			gCheckToken(t, tok, gWant{"at-skewed", "rt-skewed", "Bearer", 15 * time.Minute, 12 * time.Hour})
		}
	})
}

// TestRefreshTokenOnlyAnswer: a success answer without an access token is
// an error, but the refresh token it carries comes back with it.
func TestRefreshTokenOnlyAnswer(t *testing.T) {
	for _, file := range []string{"refresh_only.json", "refresh_only_envelope.json"} {
		for _, g := range gGrants {
			t.Run(file+"/"+g.name, func(t *testing.T) {
				p := gServer(t, gReply(200, "application/json", gFile(t, file)))
				for _, op := range []string{"login", "refresh"} {
					var tok *Token
					var err error
					if op == "login" {
						tok, err = g.mk(p).Login(t.Context())
					} else {
						tok, err = g.mk(p).Refresh(t.Context(), "rt-old")
					}
					if !errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrRefreshOutcomeUnknown) || errors.Is(err, ErrReauthRequired) {
						t.Errorf("%s error = %v, want ErrMalformedResponse only", op, err)
					}
					if tok == nil || tok.AccessToken != "" || !strings.HasPrefix(tok.RefreshToken, "rt-only") ||
						!tok.RefreshExpiry.Equal(gNow().Add(12*time.Hour)) {
						t.Errorf("%s token = %+v, want the refresh token (and its expiry) only", op, tok)
					}
				}
			})
		}
	}
}

func TestReuseGrace(t *testing.T) {
	for _, g := range []ReuseGracer{&PasswordGrant{ReuseGrace: time.Minute}, &JSONGrant{ReuseGrace: time.Minute}} {
		if got := g.RefreshReuseGrace(); got != time.Minute {
			t.Errorf("%T.RefreshReuseGrace() = %v, want 1m", g, got)
		}
	}
	if got := (&JSONGrant{}).RefreshReuseGrace(); got != 0 {
		t.Errorf("zero JSONGrant: RefreshReuseGrace() = %v, want 0", got)
	}
}
