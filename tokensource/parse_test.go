package tokensource

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func gJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + ".sig"
}

func TestJWTExpiry(t *testing.T) {
	now := gNow()
	tests := []struct {
		name string
		tok  string
		want time.Time
		ok   bool
	}{
		{"exp ahead", gJWT(`{"exp":1767226200}`), now.Add(10 * time.Minute), true},
		{"exp as string", gJWT(`{"exp":"1767226200"}`), now.Add(10 * time.Minute), true},
		{"exp passed", gJWT(`{"exp":1767225000}`), time.Time{}, false},
		{"exp in milliseconds", gJWT(`{"exp":1767226200000}`), time.Time{}, false},
		{"no exp", gJWT(`{"sub":"alice"}`), time.Time{}, false},
		{"payload not JSON", "aGVsbG8.d29ybGQ.c2ln", time.Time{}, false},
		{"payload an array", gJWT(`[1]`), time.Time{}, false},
		{"opaque", "at-opaque", time.Time{}, false},
		{"two parts", "a.b", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := jwtExpiry(tt.tok, now)
		if !got.Equal(tt.want) || ok != tt.ok {
			t.Errorf("%s: jwtExpiry() = %v, %v, want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAbsoluteExpiry(t *testing.T) {
	now := gNow()
	tests := []struct {
		in   any
		want time.Duration
		ok   bool
	}{
		{"2026-01-01T00:15:00Z", 15 * time.Minute, true},
		{"2026-01-01T01:15:00+01:00", 15 * time.Minute, true},
		{json.Number("1767226500"), 15 * time.Minute, true},
		{"1767226500", 15 * time.Minute, true},
		{json.Number("1767226500000"), 15 * time.Minute, true},
		{json.Number("1767226500.5"), 15*time.Minute + 500*time.Millisecond, true},
		{"2025-12-31T23:59:59Z", 0, false},
		{"2099-01-01T00:00:00Z", 0, false},
		{"tomorrow", 0, false},
		{json.Number("-1"), 0, false},
		{true, 0, false},
		{map[string]any{}, 0, false},
	}
	for _, tt := range tests {
		got, err := absoluteExpiry(tt.in, now, "expiry")
		if (err == nil) != tt.ok || (tt.ok && !got.Equal(now.Add(tt.want))) {
			t.Errorf("absoluteExpiry(%#v) = %v, %v, want now+%v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("absoluteExpiry(%#v) error %v does not wrap ErrMalformedResponse", tt.in, err)
		}
	}
}

func TestRelativeExpiry(t *testing.T) {
	now := gNow()
	tests := []struct {
		in     any
		zeroOK bool
		want   time.Duration
		ok     bool
	}{
		{json.Number("900"), false, 900 * time.Second, true},
		{"900", false, 900 * time.Second, true},
		{" 900 ", false, 900 * time.Second, true},
		{float64(1.5), false, 1500 * time.Millisecond, true},
		{int64(60), false, time.Minute, true},
		{json.Number("0"), true, 0, true},
		{json.Number("0"), false, 0, false},
		{json.Number("-5"), true, 0, false},
		{json.Number("1e300"), false, 0, false},
		{"NaN", false, 0, false},
		{"Inf", false, 0, false},
		{"", false, 0, false},
		{nil, false, 0, false},
		{[]any{}, false, 0, false},
	}
	for _, tt := range tests {
		got, err := relativeExpiry(tt.in, now, "expires_in", tt.zeroOK)
		want := time.Time{}
		if tt.want != 0 {
			want = now.Add(tt.want)
		}
		if (err == nil) != tt.ok || (tt.ok && !got.Equal(want)) {
			t.Errorf("relativeExpiry(%#v, zeroOK=%v) = %v, %v, want %v ok=%v", tt.in, tt.zeroOK, got, err, want, tt.ok)
		}
	}
}

// FuzzParseTokenJSON feeds arbitrary bodies to the JSON token parser: it
// must never panic, and whatever it accepts must be a usable token.
func FuzzParseTokenJSON(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","expires_in":"60"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		now := gNow()
		p, err := parseTokenJSON(body, &JSONMapping{})
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("parse error %v does not wrap ErrMalformedResponse", err)
			}
			return
		}
		tok, err := p.finish(now, "old")
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("finish error %v does not wrap ErrMalformedResponse", err)
			}
			return
		}
		if tok.AccessToken == "" || tok.RefreshToken == "" {
			t.Fatalf("accepted a token without access or refresh token: %v", tok)
		}
		for _, e := range []time.Time{tok.Expiry, tok.RefreshExpiry} {
			if !e.IsZero() && (!e.After(now) || e.Sub(now) > maxLifetime) {
				t.Fatalf("accepted expiry %v, outside (now, now+%v]", e, maxLifetime)
			}
		}
	})
}
