package tokenendpoint

import (
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// now is the fixed clock of these tests: 2026-01-01T00:00:00Z.
func now() time.Time { return time.Unix(1767225600, 0).UTC() }

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url   string
		allow bool
		want  Kind // -1: accepted
	}{
		{"", false, KindBadURL},
		{"/token", false, KindBadURL},
		{"http://auth.example.com/token", false, KindInsecure},
		{"ftp://auth.example.com/token", true, KindInsecure},
		{"http://auth.example.com:1/token", true, -1},
		{"http://127.0.0.1:1/token", false, -1},
		{"http://localhost:1/token", false, -1},
		{"http://LOCALHOST.:1/token", false, -1},
		{"http://[::1]:1/token", false, -1},
		{"http://evil.localhost/token", false, KindInsecure},
		{"http://localhost.evil.example/token", false, KindInsecure},
		{"https://auth.example.com/token", false, -1},
	}
	for _, tt := range tests {
		f := (&Client{AllowInsecure: tt.allow}).checkURL(tt.url)
		switch {
		case tt.want < 0 && f != nil:
			t.Errorf("checkURL(%q, allow=%v) = %+v, want accepted", tt.url, tt.allow, f)
		case tt.want >= 0 && (f == nil || f.Kind != tt.want):
			t.Errorf("checkURL(%q, allow=%v) = %+v, want kind %d", tt.url, tt.allow, f, tt.want)
		}
	}
	if f := (&Client{}).checkURL("http://auth.example.com/token"); f.Detail != "http://auth.example.com" {
		t.Errorf("insecure Detail = %q, want the origin", f.Detail)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now().Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now().Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"99999999999999", 24 * time.Hour, true},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now())
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	p := Retry{MaxRetryAfter: 3 * time.Second}
	for attempt := range 40 {
		d := p.backoff(100*time.Millisecond, 2*time.Second, attempt, nil)
		if d < 50*time.Millisecond || d > 2*time.Second {
			t.Errorf("backoff(attempt %d) = %v, want within [50ms, 2s]", attempt, d)
		}
	}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}}
	if d := p.backoff(time.Millisecond, time.Millisecond, 0, resp); d != 3*time.Second {
		t.Errorf("backoff(Retry-After: 3600) = %v, want the 3s cap", d)
	}
}

// TestRetryingLoggerOff: go-retryablehttp's own logger, which prints every
// URL to stderr, is never on, in a shared retrying client or in one of a
// call's own.
func TestRetryingLoggerOff(t *testing.T) {
	for _, e := range []*retryablehttp.Client{engine(Retry{}, nil), engine(Retry{MaxAttempts: 2}, nil), engine(Retry{}, &cookiejar.Jar{})} {
		if e.Logger != nil {
			t.Fatalf("retryablehttp Logger = %v, want nil", e.Logger)
		}
	}
}
