package tokensource

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestNoRedirects: credential-carrying requests follow no redirect, whatever
// the caller's client would do; the error names the status and the target's
// origin only.
func TestNoRedirects(t *testing.T) {
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusSeeOther} {
		for _, g := range gGrants {
			for _, op := range []string{"login", "refresh"} {
				t.Run(fmt.Sprintf("%d/%s/%s", code, g.name, op), func(t *testing.T) {
					thief := gServer(t, gRotating(func(http.ResponseWriter, *http.Request, int64) bool { return false }))
					p := gServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
						w.Header().Set("Location", thief.srv.URL+"/steal/path?token=hunter2")
						w.WriteHeader(code)
						fmt.Fprint(w, "moved; your refresh token rt-spendable is safe with us")
					})
					grant := g.mk(p)
					follow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
					switch x := grant.(type) {
					case *JSONGrant:
						x.HTTPClient = follow
					case *PasswordGrant:
						x.HTTPClient = follow
					}
					var tok *Token
					var err error
					if op == "login" {
						tok, err = grant.Login(t.Context())
					} else {
						tok, err = grant.Refresh(t.Context(), "rt-spendable")
					}
					if n := thief.hits.Load(); n != 0 {
						t.Errorf("the redirect target received %d requests, want 0", n)
					}
					if n := p.hits.Load(); n != 1 {
						t.Errorf("the token endpoint received %d requests, want 1", n)
					}
					te := gTokenError(t, err)
					if tok != nil || te.StatusCode != code || !errors.Is(err, ErrRedirect) {
						t.Fatalf("%s = %v, %v, want a %d TokenError wrapping ErrRedirect", op, tok, err, code)
					}
					if got := errors.Is(err, ErrRefreshOutcomeUnknown); got != (op == "refresh") {
						t.Errorf("errors.Is(err, ErrRefreshOutcomeUnknown) = %v for %s", got, op)
					}
					msg := err.Error()
					if !strings.Contains(msg, "redirected to "+thief.srv.URL+";") || strings.Contains(msg, "/steal") ||
						strings.Contains(msg, "hunter2") || strings.Contains(msg, "safe with us") || te.Body != "" {
						t.Errorf("error %q (body %q), want the target's origin and nothing else of it", msg, te.Body)
					}
				})
			}
		}
	}
}

// TestRedirectLoop: a token endpoint redirecting to itself gets one POST.
func TestRedirectLoop(t *testing.T) {
	for _, g := range gGrants {
		t.Run(g.name, func(t *testing.T) {
			p := gServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
				http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
			})
			_, err := g.mk(p).Refresh(t.Context(), "rt-spendable")
			if n := p.hits.Load(); n != 1 {
				t.Errorf("endpoint hits = %d, want exactly 1", n)
			}
			if !errors.Is(err, ErrRedirect) || !errors.Is(err, ErrRefreshOutcomeUnknown) {
				t.Errorf("Refresh() error = %v, want ErrRedirect and ErrRefreshOutcomeUnknown", err)
			}
			if want := "redirected to " + p.srv.URL + ";"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the origin %s", err, p.srv.URL)
			}
		})
	}
}
