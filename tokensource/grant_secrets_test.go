package tokensource

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestErrorsHideSecrets: the exact secrets a request carried never reach an
// error message, even short ones that look like nothing, echoed raw or
// escaped, in a description or in the body excerpt.
func TestErrorsHideSecrets(t *testing.T) {
	const secret = "hunter2"
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		call   func(g Grant) error
	}{
		{"refresh token in error_description", 400, "application/json",
			`{"error":"invalid_grant","error_description":"refresh token hunter2 was already used"}`,
			func(g Grant) error { _, err := g.Refresh(context.Background(), secret); return err }},
		{"refresh token JSON-escaped in a message", 500, "application/json",
			`{"message":"cannot refresh \u0068unter2 now"}`,
			func(g Grant) error { _, err := g.Refresh(context.Background(), secret); return err }},
		{"password in an HTML page", 500, "text/html",
			`<html><body><p>Login failed for alice with password: hunter2</p></body></html>`,
			func(g Grant) error { return gLogin(g, secret) }},
		{"password in a form error", 400, "application/x-www-form-urlencoded",
			`error=invalid_request&error_description=password+hunter2+is+too+short`,
			func(g Grant) error { return gLogin(g, secret) }},
		{"password cut by truncation", 500, "application/json",
			`{"error":"server_error","error_description":"` + strings.Repeat("x", 200-3) + ` hunter2"}`,
			func(g Grant) error { return gLogin(g, secret) }},
		{"token being revoked", 500, "text/plain",
			`session hunter2 unknown`,
			func(g Grant) error {
				return g.(Revoker).Revoke(context.Background(), &Token{AccessToken: secret, RefreshToken: secret})
			}},
	}
	for _, tt := range tests {
		for _, g := range gGrants {
			t.Run(tt.name+"/"+g.name, func(t *testing.T) {
				p := gServer(t, gReply(tt.status, tt.ctype, []byte(tt.body)))
				err := tt.call(g.mk(p))
				te := gTokenError(t, err)
				for _, s := range []string{err.Error(), te.Body, te.Code, te.Description, fmt.Sprintf("%+v", te)} {
					if strings.Contains(s, "hunt") {
						t.Errorf("error text %q shows (part of) the secret", s)
					}
				}
				if !strings.Contains(err.Error(), "<redacted>") {
					t.Errorf("error %q: expected a <redacted> marker where the secret was", err)
				}
			})
		}
	}
	t.Run("client secret and API key", func(t *testing.T) {
		body := `{"error":"invalid_client","error_description":"client s3c-r3t / key ak-7&x<y> rejected; basic Y2xpOnMzYy1yM3Q="}`
		p := gServer(t, gReply(401, "application/json", []byte(body)))
		pg := gPassword(p)
		pg.ClientSecret = "s3c-r3t"
		_, err := pg.Login(t.Context())
		if msg := err.Error(); strings.Contains(msg, "s3c-r3t") || strings.Contains(msg, "Y2xpOnMzYy1yM3Q=") {
			t.Errorf("PasswordGrant error %q shows the client secret", msg)
		}
		jg := gJSON(p)
		jg.Header = http.Header{"X-Api-Key": {"ak-7&x<y>"}}
		escaped := gServer(t, gReply(500, "text/html", []byte(`<p>key ak-7&amp;x&lt;y&gt; is not allowed</p>`)))
		jg2 := gJSON(escaped)
		jg2.Header = jg.Header
		for _, g := range []*JSONGrant{jg, jg2} {
			_, err := g.Login(t.Context())
			if msg := err.Error(); strings.Contains(msg, "ak-7") {
				t.Errorf("JSONGrant error %q shows the API key", msg)
			}
		}
	})
}

// gLogin logs in with password as the grant's password.
func gLogin(g Grant, password string) error {
	switch x := g.(type) {
	case *JSONGrant:
		x.Password = password
	case *PasswordGrant:
		x.Password = password
	}
	_, err := g.Login(context.Background())
	return err
}
