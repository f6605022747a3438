package tokensource

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	jwt := gJWT(`{"sub":"alice","exp":1767226200}`)
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
		op     string
		status int
		info   errorInfo
		want   bool
	}{
		{"refresh", 400, errorInfo{"invalid_grant", ""}, true},
		{"refresh", 400, errorInfo{}, true},
		{"refresh", 401, errorInfo{}, true},
		{"refresh", 400, errorInfo{"invalid_client", ""}, false},
		{"refresh", 400, errorInfo{"unsupported_grant_type", ""}, false},
		{"refresh", 404, errorInfo{"", "refresh token not found"}, true},
		{"refresh", 410, errorInfo{"", "session revoked"}, true},
		{"refresh", 404, errorInfo{"", "no such route"}, false},
		{"refresh", 429, errorInfo{"", "invalid rate"}, false},
		{"refresh", 500, errorInfo{"", "token expired"}, false},
		{"refresh", 503, errorInfo{"invalid_grant", ""}, true},
		{"refresh", 200, errorInfo{"invalid_grant", ""}, true},
		{"login", 401, errorInfo{}, true},
		{"login", 404, errorInfo{"", "user not found"}, false},
		{"login", 401, errorInfo{"invalid_client", ""}, false},
	}
	for _, tt := range tests {
		if got := rejected(tt.op, tt.status, tt.info); got != tt.want {
			t.Errorf("rejected(%s, %d, %+v) = %v, want %v", tt.op, tt.status, tt.info, got, tt.want)
		}
	}
}

// FuzzParseErrorBody feeds arbitrary error bodies: never a panic, and what
// comes out is bounded, valid UTF-8 text.
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
		r := &reply{status: status, header: http.Header{"Content-Type": {ctype}}, body: body}
		te := (call{op: "refresh", secrets: []string{"hunter2"}}).responseError(r, nil)
		if msg := te.Error(); !utf8.ValidString(msg) || len(te.Body) > maxExcerpt+len("…") {
			t.Fatalf("bad error message %q", msg)
		}
		if strings.Contains(te.Error(), "hunter2") {
			t.Fatalf("error message %q holds the secret", te.Error())
		}
	})
}
