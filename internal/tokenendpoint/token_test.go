package tokenendpoint

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + ".sig"
}

// at is now()+d, or the zero time for d == 0.
func at(d time.Duration) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return now().Add(d)
}

func TestJWTExp(t *testing.T) {
	rc := receipt{now: now()}
	tests := []struct {
		name string
		tok  string
		want time.Duration // from now; 0 = unknown
	}{
		{"exp ahead", jwt(`{"exp":1767226200}`), 10 * time.Minute},
		{"exp as string", jwt(`{"exp":"1767226200"}`), 10 * time.Minute},
		{"exp passed", jwt(`{"exp":1767225000}`), 0},
		{"exp in milliseconds", jwt(`{"exp":1767226200000}`), 0},
		{"no exp", jwt(`{"sub":"alice"}`), 0},
		{"payload not JSON", "aGVsbG8.d29ybGQ.c2ln", 0},
		{"payload an array", jwt(`[1]`), 0},
		{"opaque", "at-opaque", 0},
		{"two parts", "a.b", 0},
	}
	for _, tt := range tests {
		var got time.Time
		if exp, ok := jwtExp(tt.tok); ok {
			got = rc.at(exp)
		}
		if want := at(tt.want); !got.Equal(want) {
			t.Errorf("%s: expiry = %v, want %v", tt.name, got, want)
		}
	}
}

func TestAbsoluteExpiry(t *testing.T) {
	tests := []struct {
		in   any
		want time.Duration // from now; 0 = unknown
	}{
		{"2026-01-01T00:15:00Z", 15 * time.Minute},
		{"2026-01-01T01:15:00+01:00", 15 * time.Minute},
		{json.Number("1767226500"), 15 * time.Minute},
		{"1767226500", 15 * time.Minute},
		{json.Number("1767226500000"), 15 * time.Minute},
		{json.Number("1767226500.5"), 15*time.Minute + 500*time.Millisecond},
		{"2025-12-31T23:59:59Z", 0},
		{"2099-01-01T00:00:00Z", 0},
		{"tomorrow", 0},
		{json.Number("-1"), 0},
		{true, 0},
		{map[string]any{}, 0},
	}
	for _, tt := range tests {
		if got := (receipt{now: now()}).expiry(nil, tt.in); !got.Equal(at(tt.want)) {
			t.Errorf("expiry(%#v) = %v, want %v", tt.in, got, at(tt.want))
		}
	}
}

// TestAbsoluteExpiryServerClock: absolute expiries are read against the
// server's Date, so a server whose clock is 20 minutes off still yields a
// 15-minute token.
func TestAbsoluteExpiryServerClock(t *testing.T) {
	now := now()
	for _, off := range []time.Duration{-20 * time.Minute, 0, 20 * time.Minute, 3 * time.Hour} {
		date := now.Add(off)
		rc := receipt{now: now, date: date}
		abs := date.Add(15 * time.Minute).Format(time.RFC3339)
		if got := rc.expiry(nil, abs); !got.Equal(now.Add(15 * time.Minute)) {
			t.Errorf("server %v off: expiry = %v, want now+15m", off, got)
		}
		if got := rc.skew(); got != off {
			t.Errorf("server %v off: skew = %v", off, got)
		}
		if exp, ok := jwtExp(jwt(`{"exp":` + strconv.FormatInt(date.Add(10*time.Minute).Unix(), 10) + `}`)); !ok || !rc.at(exp).Equal(now.Add(10*time.Minute)) {
			t.Errorf("server %v off: JWT expiry = %v, want now+10m", off, rc.at(exp))
		}
	}
	// Without a Date our clock is the reference: a past expiry is unknown.
	behind := now.Add(-20 * time.Minute).Add(15 * time.Minute).Format(time.RFC3339)
	if got := (receipt{now: now}).expiry(nil, behind); !got.IsZero() {
		t.Errorf("no Date, expiry in our past: %v, want unknown", got)
	}
	// A Date header has whole seconds: agreeing clocks measure no skew,
	// whatever the fraction of our second.
	sec := now.Truncate(time.Second)
	for _, frac := range []time.Duration{0, 300 * time.Millisecond, 999 * time.Millisecond} {
		if got := (receipt{now: sec.Add(frac), date: sec}).skew(); got != 0 {
			t.Errorf("agreeing clocks, our clock at +%v into the second: skew = %v, want 0", frac, got)
		}
		if got := (receipt{now: sec.Add(frac), date: sec.Add(-20 * time.Minute)}).skew(); got != -20*time.Minute {
			t.Errorf("server 20m behind, our clock at +%v into the second: skew = %v, want -20m", frac, got)
		}
	}
}

func TestRelativeExpiry(t *testing.T) {
	tests := []struct {
		in   any
		want time.Duration // 0 = unknown
	}{
		{json.Number("900"), 900 * time.Second},
		{"900", 900 * time.Second},
		{" 900 ", 900 * time.Second},
		{float64(1.5), 1500 * time.Millisecond},
		{int64(60), time.Minute},
		{json.Number("0"), 0},
		{json.Number("-5"), 0},
		{json.Number("1e300"), 0},
		{json.Number("900000000000"), 0},
		{"NaN", 0},
		{"Inf", 0},
		{"", 0},
		{"soon", 0},
		{nil, 0},
		{[]any{}, 0},
	}
	for _, tt := range tests {
		if got := (receipt{now: now()}).lifetime(tt.in); !got.Equal(at(tt.want)) {
			t.Errorf("lifetime(%#v) = %v, want %v", tt.in, got, at(tt.want))
		}
	}
}

func TestValidScheme(t *testing.T) {
	for s, want := range map[string]bool{
		"Bearer": true, "bearer": true, "DPoP": true, "MAC": true, "x-custom_1": true,
		"": false, "1": false, "42": false, "Bearer token": false, "Bé": false, "a,b": false,
	} {
		if got := validScheme(s); got != want {
			t.Errorf("validScheme(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzParseTokenJSON feeds arbitrary bodies to the JSON token parser: it
// must never panic, a body without an access token is a problem, and
// whatever it accepts is a usable token with sane expiries.
func FuzzParseTokenJSON(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","expires_in":"60"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		now := now()
		p, problem := parseTokenJSON(body, &Paths{})
		if p == nil {
			if problem == "" {
				t.Fatal("no token and no problem")
			}
			return
		}
		tok := p.finish(receipt{now: now}, "old")
		if (problem == "") != (tok.AccessToken != "") {
			t.Fatalf("problem %q with access token %q", problem, tok.AccessToken)
		}
		if problem == "" && tok.RefreshToken == "" {
			t.Fatalf("accepted a token without a refresh token: %+v", tok)
		}
		checkSane(t, tok, now)
	})
}

// checkSane checks the invariants of a token a grant hands out.
func checkSane(t *testing.T, tok *Token, now time.Time) {
	t.Helper()
	for _, e := range []time.Time{tok.Expiry, tok.RefreshExpiry} {
		if !e.IsZero() && (!e.After(now) || e.Sub(now) > maxLifetime) {
			t.Fatalf("accepted expiry %v, outside (now, now+%v]", e, maxLifetime)
		}
	}
	if tok.TokenType != "" && !validScheme(tok.TokenType) {
		t.Fatalf("token type %q is not an HTTP auth scheme", tok.TokenType)
	}
}

// FuzzTokenReply feeds arbitrary success answers, with any Content-Type
// and Date header, through the path every grant shares: never a panic, an
// access token or a malformed failure, sane expiries, and a refresh token
// found in a token-less answer is handed back.
func FuzzTokenReply(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","expires_at":1767226500}`), "application/json", "Thu, 01 Jan 2026 00:00:00 GMT")
	f.Fuzz(func(t *testing.T, body []byte, ctype, date string) {
		now := now()
		r := &Reply{Status: 200, Header: http.Header{"Content-Type": {ctype}, "Date": {date}}, Body: body}
		tok, fail := (&Call{Refresh: true, Secrets: []string{"old"}}).Token(r, Paths{}, now, "old")
		switch {
		case fail == nil:
			if tok == nil || tok.AccessToken == "" || tok.RefreshToken == "" {
				t.Fatalf("token %+v without access or refresh token", tok)
			}
		case fail.Kind != KindMalformed:
			t.Fatalf("failure %+v, want a malformed answer", fail)
		case tok != nil && (tok.AccessToken != "" || tok.RefreshToken == ""):
			t.Fatalf("partial token %+v, want a refresh token only", tok)
		case tok == nil && fail.Code == "" && !fail.Unknown:
			t.Fatalf("a success answer without a token: %+v, want an unknown outcome", fail)
		}
		if tok != nil {
			checkSane(t, tok, now)
		}
	})
}

// TestIDToken: an id_token beside the tokens is kept as found, in JSON
// (snake or camel case, at the root or in an envelope) and in a form
// answer; it is not a reason to accept an answer without an access token.
func TestIDToken(t *testing.T) {
	tests := []struct {
		name, ctype, body, want string
		ok                      bool
	}{
		{"json", "application/json", `{"access_token":"at","id_token":"h.p.s"}`, "h.p.s", true},
		{"camel", "application/json", `{"accessToken":"at","idToken":"h.p.s"}`, "h.p.s", true},
		{"envelope", "application/json", `{"data":{"access_token":"at","id_token":"h.p.s"}}`, "h.p.s", true},
		{"form", "application/x-www-form-urlencoded", `access_token=at&id_token=h.p.s`, "h.p.s", true},
		{"absent", "application/json", `{"access_token":"at"}`, "", true},
		{"not a string", "application/json", `{"access_token":"at","id_token":7}`, "", true},
		{"id token only", "application/json", `{"id_token":"h.p.s"}`, "", false},
	}
	for _, tt := range tests {
		r := &Reply{Status: 200, Header: http.Header{"Content-Type": {tt.ctype}}, Body: []byte(tt.body)}
		tok, fail := (&Call{Standard: true}).Token(r, Paths{}, now(), "")
		if (fail == nil) != tt.ok {
			t.Errorf("%s: failure %+v, want ok %t", tt.name, fail, tt.ok)
			continue
		}
		if tt.ok && tok.IDToken != tt.want {
			t.Errorf("%s: IDToken = %q, want %q", tt.name, tok.IDToken, tt.want)
		}
	}
}
