package tokensource

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestTokenNeverPrintsSecrets(t *testing.T) {
	tok := &Token{AccessToken: "SECRET-ACCESS", RefreshToken: "SECRET-REFRESH", TokenType: "bearer",
		Expiry: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("token", "tok", tok, "value", *tok)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("token", "tok", tok)
	wrapped, _ := json.Marshal(struct{ T *Token }{tok})
	outputs := []string{logs.String(), string(wrapped),
		fmt.Errorf("failed with %v", tok).Error()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		outputs = append(outputs, fmt.Sprintf(verb, tok), fmt.Sprintf(verb, *tok))
	}
	outputs = append(outputs, fmt.Sprint([]*Token{tok}), fmt.Sprintf("%v", map[string]Token{"a": *tok}))
	for _, out := range outputs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("output leaks a secret: %s", out)
		}
	}
	if !strings.Contains(fmt.Sprint(tok), "expiry=2026-01-01T00:00:00Z") {
		t.Errorf("String() = %s, want the expiry shown", tok)
	}
}

func TestTokenType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "Bearer"}, {"bearer", "Bearer"}, {"BEARER", "Bearer"}, {"Bearer", "Bearer"}, {"DPoP", "DPoP"},
	} {
		tok := &Token{AccessToken: "a", TokenType: tc.in}
		if got := tok.Type(); got != tc.want {
			t.Errorf("Type(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := tok.AuthorizationValue(); got != tc.want+" a" {
			t.Errorf("AuthorizationValue(%q) = %q", tc.in, got)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name                 string
		tok                  Token
		expired, refreshDead bool
	}{
		{"no expiry", Token{AccessToken: "a", RefreshToken: "r"}, false, false},
		{"future", Token{AccessToken: "a", RefreshToken: "r", Expiry: now.Add(time.Second), RefreshExpiry: now.Add(time.Hour)}, false, false},
		{"at expiry", Token{AccessToken: "a", RefreshToken: "r", Expiry: now, RefreshExpiry: now}, true, true},
		{"no refresh token", Token{AccessToken: "a"}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.ExpiredAt(now); got != tc.expired {
				t.Errorf("ExpiredAt = %v, want %v", got, tc.expired)
			}
			if got := tc.tok.RefreshExpiredAt(now); got != tc.refreshDead {
				t.Errorf("RefreshExpiredAt = %v, want %v", got, tc.refreshDead)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	in := &Token{AccessToken: "a", TokenType: "Bearer", RefreshToken: "r",
		Expiry:        time.Date(2026, 1, 1, 0, 15, 0, 0, time.UTC),
		RefreshExpiry: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
		IssuedAt:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, err := EncodeToken(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeToken(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.AccessToken != in.AccessToken || out.RefreshToken != in.RefreshToken || out.TokenType != in.TokenType ||
		!out.Expiry.Equal(in.Expiry) || !out.RefreshExpiry.Equal(in.RefreshExpiry) || !out.IssuedAt.Equal(in.IssuedAt) {
		t.Fatalf("round trip = %#v, want %#v", out, in)
	}
	if _, err := EncodeToken(&Token{}); err == nil {
		t.Error("EncodeToken of an empty token succeeded")
	}
}

func TestDecodeTokenErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"truncated":      `{"version":1,"access_token":"SECRET`,
		"not json":       "<html>SECRET</html>",
		"no version":     `{"access_token":"SECRET"}`,
		"future version": `{"version":99,"access_token":"SECRET"}`,
		"no token":       `{"version":1,"token_type":"SECRET"}`,
		"wrong type":     `{"version":"1","access_token":"SECRET"}`,
		"bad time":       `{"version":1,"access_token":"SECRET","expiry":"SECRET"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeToken([]byte(in))
			if !errors.Is(err, ErrUnreadableToken) {
				t.Fatalf("DecodeToken = %v, want ErrUnreadableToken", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

func FuzzDecodeToken(f *testing.F) {
	for _, s := range []string{"", "{}", `{"version":1,"access_token":"a"}`, `{"version":1,"access_token":"a","expiry":"2026-01-01T00:00:00Z"}`, `[`, `{"version":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := DecodeToken(b)
		if err != nil {
			if !errors.Is(err, ErrUnreadableToken) {
				t.Fatalf("error %v does not wrap ErrUnreadableToken", err)
			}
			return
		}
		again, err := EncodeToken(tok)
		if err != nil {
			t.Fatalf("re-encoding a decoded token: %v", err)
		}
		if _, err := DecodeToken(again); err != nil {
			t.Fatalf("decoding a re-encoded token: %v", err)
		}
	})
}

// TestIDTokenRedacted: an id_token is redacted like the other tokens, and
// its presence is shown.
func TestIDTokenRedacted(t *testing.T) {
	tok := &Token{AccessToken: "SECRET-ACCESS", IDToken: "SECRET-ID.SECRET.SIG"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("token", "tok", tok)
	wrapped, _ := json.Marshal(tok)
	outs := []string{logs.String(), string(wrapped), fmt.Sprintf("%v %+v %#v %s %x", tok, tok, tok, tok, tok)}
	for _, out := range outs {
		if strings.Contains(out, "SECRET") {
			t.Errorf("output leaks the id_token: %s", out)
		}
	}
	if s := tok.String(); !strings.Contains(s, "id_token=<redacted>") {
		t.Errorf("String() = %s, want id_token=<redacted>", s)
	}
	if !strings.Contains(logs.String(), `"has_id_token":true`) {
		t.Errorf("log = %s, want has_id_token", logs.String())
	}
	if got := tok.AuthorizationValue(); got != "Bearer SECRET-ACCESS" {
		t.Errorf("AuthorizationValue() = %q: the id_token is never a bearer", got)
	}
}
