package tokenendpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	jwt := jwt(`{"sub":"alice","exp":1767226200}`)
	tests := []struct {
		name, in string
		secrets  []string
		keep     []string
	}{
		{"json fields", `{"access_token":"abc","refresh_token":"def","client_secret":"ghi","password":"jkl"}`,
			[]string{"abc", "def", "ghi", "jkl"}, []string{"access_token", "refresh_token"}},
		{"escaped quote in value", `{"refreshToken":"a\"SECRET"}`, []string{"SECRET"}, nil},
		{"unterminated value", `{"refresh_token":"SECRET`, []string{"SECRET"}, nil},
		{"form", "error=invalid_grant&refresh_token=SECRET1&api_key=SECRET2", []string{"SECRET1", "SECRET2"}, []string{"invalid_grant"}},
		{"jwt anywhere", "bad token " + jwt + " here", []string{jwt[:20]}, []string{"bad token"}},
		{"long opaque", "session 8f3kD93kdLq0Zx81mMzPq9aa0Qx then", []string{"8f3kD93kdLq0Zx81mMzPq9aa0Qx"}, []string{"session", "then"}},
		{"identifiers stay", `{"error":"unsupported_grant_type","token_type":"bearer"}`, nil, []string{"unsupported_grant_type", "bearer"}},
	}
	for _, tt := range tests {
		got := redact(tt.in)
		for _, s := range tt.secrets {
			if strings.Contains(got, s) {
				t.Errorf("%s: redact(%q) = %q, still holds %q", tt.name, tt.in, got, s)
			}
		}
		for _, s := range tt.keep {
			if !strings.Contains(got, s) {
				t.Errorf("%s: redact(%q) = %q, lost %q", tt.name, tt.in, got, s)
			}
		}
	}
}

func TestExcerptBounds(t *testing.T) {
	// A secret straddling the scan limit must not leak in part.
	body := strings.Repeat(`{"x":1},`, excerptScan/8-2) + `{"refresh_token":"SECRET-SECRET-SECRET"}`
	if got := excerpt([]byte(body), nil); strings.Contains(got, "SECRET") || len(got) > maxExcerpt+len("…") {
		t.Errorf("excerpt() = %q (%d bytes), want bounded and without the secret", got, len(got))
	}
	if got := excerpt([]byte(strings.Repeat("é", 300)), nil); !utf8.ValidString(got) {
		t.Errorf("excerpt() cut a rune: %q", got)
	}
}

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		body, ctype string
		want        errorInfo
	}{
		{`{"error":"invalid_grant","error_description":"expired"}`, "application/json", errorInfo{"invalid_grant", "expired"}},
		{`{"error":{"code":"E1","message":"boom"}}`, "", errorInfo{"E1", "boom"}},
		{`{"errors":[{"code":42,"message":"nope"}]}`, "", errorInfo{"42", "nope"}},
		{`{"type":"about:blank","title":"Unauthorized","detail":"token expired"}`, "application/problem+json", errorInfo{"", "token expired"}},
		{`{"message":"Refresh token reused"}`, "", errorInfo{"", "Refresh token reused"}},
		{"error=invalid_grant&error_description=gone", "application/x-www-form-urlencoded", errorInfo{"invalid_grant", "gone"}},
		{"<html>502</html>", "text/html", errorInfo{}},
		{`["error"]`, "", errorInfo{}},
		{`{"error":"x","error_description":"token ` + strings.Repeat("A1", 30) + `"}`, "", errorInfo{"x", "token <redacted>"}},
	}
	for _, tt := range tests {
		if got := parseErrorBody([]byte(tt.body), tt.ctype, nil); got != tt.want {
			t.Errorf("parseErrorBody(%q) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestRejected(t *testing.T) {
	tests := []struct {
		refresh bool
		status  int
		info    errorInfo
		want    bool
	}{
		{true, 400, errorInfo{"invalid_grant", ""}, true},
		{true, 400, errorInfo{}, true},
		{true, 401, errorInfo{}, true},
		{true, 400, errorInfo{"invalid_client", ""}, false},
		{true, 400, errorInfo{"unsupported_grant_type", ""}, false},
		{true, 404, errorInfo{"", "refresh token not found"}, true},
		{true, 410, errorInfo{"", "session revoked"}, true},
		{true, 404, errorInfo{"", "no such route"}, false},
		{true, 429, errorInfo{"", "invalid rate"}, false},
		{true, 500, errorInfo{"", "token expired"}, false},
		{true, 503, errorInfo{"invalid_grant", ""}, true},
		{true, 200, errorInfo{"invalid_grant", ""}, true},
		{false, 401, errorInfo{}, true},
		{false, 404, errorInfo{"", "user not found"}, false},
		{false, 401, errorInfo{"invalid_client", ""}, false},
	}
	for _, tt := range tests {
		if got := rejected(tt.refresh, tt.status, tt.info); got != tt.want {
			t.Errorf("rejected(refresh=%v, %d, %+v) = %v, want %v", tt.refresh, tt.status, tt.info, got, tt.want)
		}
	}
}

// FuzzParseErrorBody feeds arbitrary error bodies: never a panic, and what
// comes out is bounded, valid UTF-8 text without the secret.
func FuzzParseErrorBody(f *testing.F) {
	f.Add([]byte(`{"error":"invalid_grant"}`), "application/json", 400)
	f.Fuzz(func(t *testing.T, body []byte, ctype string, status int) {
		info := parseErrorBody(body, ctype, []string{"hunter2"})
		if len(info.code) > 64+len("…") || len(info.description) > maxExcerpt+len("…") {
			t.Fatalf("unbounded error info: %d/%d bytes", len(info.code), len(info.description))
		}
		if !utf8.ValidString(info.code) || !utf8.ValidString(info.description) {
			t.Fatalf("invalid UTF-8 in %+v", info)
		}
		r := &Reply{Status: status, Header: http.Header{"Content-Type": {ctype}}, Body: body}
		f := (&Call{Refresh: true, Secrets: []string{"hunter2"}}).Fail(r)
		for _, s := range []string{f.Code, f.Description, f.Body, f.Detail} {
			if !utf8.ValidString(s) || strings.Contains(s, "hunter2") {
				t.Fatalf("bad failure text %q", s)
			}
		}
		if len(f.Body) > maxExcerpt+len("…") {
			t.Fatalf("excerpt of %d bytes", len(f.Body))
		}
	})
}

func TestScrub(t *testing.T) {
	const secret = `p<w>&"d 1/2'`
	echoes := []string{
		secret,
		`p\u003cw\u003e\u0026\"d 1/2'`, // encoding/json
		`p<w>&\"d 1/2'`,                // JSON without HTML escaping
		`p%3Cw%3E%26%22d+1%2F2%27`,     // form
		`p%3Cw%3E&%22d%201%2F2%27`,     // URL path
		`p&lt;w&gt;&amp;&#34;d 1/2&#39;`,
		`p&lt;w&gt;&amp;&quot;d 1/2&#x27;`,
	}
	for _, e := range echoes {
		if got := scrub("before "+e+" after", []string{secret}); got != "before <redacted> after" {
			t.Errorf("scrub(%q) = %q", e, got)
		}
	}
	if got := scrub("an ab in a cab", []string{"ab", ""}); got != "an ab in a cab" {
		t.Errorf("scrub with secrets shorter than %d = %q, want the text unchanged", minSecret, got)
	}
	cause := fmt.Errorf("dial https://api.example/token?key=hunter2: %w", context.DeadlineExceeded)
	err := scrubError(cause, []string{"hunter2"})
	if strings.Contains(err.Error(), "hunter2") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("scrubError() = %v, want the secret gone and the cause kept", err)
	}
	if scrubError(nil, []string{"hunter2"}) != nil {
		t.Error("scrubError(nil) != nil")
	}
}

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"client_assertion": true, "api_key": true, "X-Refresh-Token": true, "PASSWORD": true,
		"audience": false, "resource": false, "scope": false,
	} {
		if got := SecretName(name); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, got, want)
		}
	}
}
