package tokensource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gNow is the fixed clock of the grant tests: 2026-01-01T00:00:00Z.
func gNow() time.Time { return time.Unix(1767225600, 0).UTC() }

// gFast is a retry policy with millisecond waits.
func gFast() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond, MaxRetryAfter: 2 * time.Millisecond}
}

// gRequest is what a gServer saw.
type gRequest struct {
	path, ctype, auth string
	body              string
}

// gPeer is a loopback token endpoint whose answers a test scripts.
type gPeer struct {
	srv *httptest.Server

	mu   sync.Mutex // guards reqs
	reqs []gRequest
	hits atomic.Int64
}

// gServer starts a token endpoint that records each request and answers
// with h; it is closed when the test ends. Its clock agrees with gNow: every
// answer carries that Date unless h sets another.
func gServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int64)) *gPeer {
	t.Helper()
	p := &gPeer{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, gRequest{r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(body)})
		p.mu.Unlock()
		w.Header().Set("Date", gNow().Format(http.TimeFormat))
		h(w, r, p.hits.Add(1))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *gPeer) requests() []gRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gRequest(nil), p.reqs...)
}

// gFile reads a recorded response from testdata/responses.
func gFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "responses", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gReply answers every request with status, content type and body.
func gReply(status int, ctype string, body []byte) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		w.Write(body)
	}
}

// gJSON returns a JSONGrant pointed at p.
func gJSON(p *gPeer) *JSONGrant {
	return &JSONGrant{
		LoginURL: p.srv.URL + "/login", RefreshURL: p.srv.URL + "/refresh", LogoutURL: p.srv.URL + "/logout",
		Username: "alice", Password: "wonderland",
		HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow,
	}
}

// gPassword returns a PasswordGrant pointed at p.
func gPassword(p *gPeer) *PasswordGrant {
	return &PasswordGrant{
		TokenURL: p.srv.URL + "/token", RevokeURL: p.srv.URL + "/revoke",
		ClientID: "cli", ClientSecret: "s3cret", Scopes: []string{"openid", "email"},
		Username: "alice", Password: "wonderland",
		HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow,
	}
}

func gTokenError(t *testing.T, err error) *TokenError {
	t.Helper()
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *TokenError", err, err)
	}
	return te
}

func TestRetryStatusCodes(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // answers in order; the last one repeats
		wantHits int64
		wantOK   bool
		wantCode int
		unknown  bool // the refresh's outcome is unknown
	}{
		{"503 then 200", []int{503, 200}, 2, true, 0, false},
		{"429 then 200", []int{429, 200}, 2, true, 0, false},
		{"503 429 503 then 200", []int{503, 429, 503, 200}, 4, true, 0, false},
		{"503 forever", []int{503}, 4, false, 503, false},
		{"429 forever", []int{429}, 4, false, 429, false},
		{"500 not retried", []int{500, 200}, 1, false, 500, true},
		{"502 not retried", []int{502, 200}, 1, false, 502, true},
		{"504 not retried", []int{504, 200}, 1, false, 504, true},
		{"599 not retried", []int{599, 200}, 1, false, 599, true},
		{"501 not retried", []int{501, 200}, 1, false, 501, false},
		{"400 not retried", []int{400, 200}, 1, false, 400, false},
		{"401 not retried", []int{401, 200}, 1, false, 401, false},
		{"404 not retried", []int{404, 200}, 1, false, 404, false},
		{"408 not retried", []int{408, 200}, 1, false, 408, false},
	}
	ok := gFile(t, "snake.json")
	for _, tt := range tests {
		for name, g := range map[string]func(*gPeer) Grant{
			"json":     func(p *gPeer) Grant { return gJSON(p) },
			"password": func(p *gPeer) Grant { return gPassword(p) },
		} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				p := gServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
					s := tt.statuses[min(int(n), len(tt.statuses))-1]
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Retry-After", "120") // capped by the policy
					w.WriteHeader(s)
					if s == 200 {
						w.Write(ok)
					} else {
						w.Write([]byte(`{"error":"temporarily_unavailable"}`))
					}
				})
				tok, err := g(p).Refresh(t.Context(), "rt-old")
				if got := p.hits.Load(); got != tt.wantHits {
					t.Errorf("endpoint hits = %d, want %d", got, tt.wantHits)
				}
				if tt.wantOK {
					if err != nil || tok.AccessToken != "at-snake" {
						t.Fatalf("Refresh() = %v, %v, want the token", tok, err)
					}
					return
				}
				te := gTokenError(t, err)
				if te.StatusCode != tt.wantCode || te.Op != "refresh" {
					t.Errorf("TokenError = %+v, want status %d op refresh", te, tt.wantCode)
				}
				if got := errors.Is(err, ErrRefreshOutcomeUnknown); got != tt.unknown {
					t.Errorf("errors.Is(%v, ErrRefreshOutcomeUnknown) = %v, want %v", err, got, tt.unknown)
				}
				if tok != nil {
					t.Errorf("Refresh() token = %v, want nil", tok)
				}
			})
		}
	}
}

func TestRetryGivesUpOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	p := gServer(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		cancel() // the caller gives up while the server is failing
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	g := gJSON(p)
	g.Retry = RetryPolicy{MaxAttempts: 10, MinWait: time.Hour, MaxWait: time.Hour}
	_, err := g.Refresh(ctx, "rt-old")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh() error = %v, want context.Canceled", err)
	}
	if got := p.hits.Load(); got != 1 {
		t.Errorf("endpoint hits = %d, want 1", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// gCountingClient returns a client whose transport counts the attempts
// that reach it.
func gCountingClient(n *atomic.Int64) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		n.Add(1)
		return http.DefaultTransport.RoundTrip(req)
	})}
}

// TestRetryTransportErrorBeforeSend: a refused connection never carried the
// request, so it is re-sent, up to MaxAttempts, and the failure is
// transient: the refresh token is still good.
func TestRetryTransportErrorBeforeSend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/refresh"
	l.Close() // nothing listens: every attempt is refused
	var attempts atomic.Int64
	g := &JSONGrant{RefreshURL: url, Retry: gFast(), HTTPClient: gCountingClient(&attempts)}
	tok, err := g.Refresh(t.Context(), "rt-old")
	te := gTokenError(t, err)
	if tok != nil || te.StatusCode != 0 || te.Rejected || errors.Is(err, ErrReauthRequired) {
		t.Errorf("Refresh() = %v, %+v, want a transient transport error", tok, te)
	}
	if n := attempts.Load(); n != 4 {
		t.Errorf("attempts = %d, want 4 (a dial error is retried)", n)
	}
}

// TestRefreshOutcomeUnknown drops the connection after the server has read
// the refresh request (as if it rotated the token and the answer was lost):
// the refresh token is not sent again, and the error says the outcome is
// unknown.
func TestRefreshOutcomeUnknown(t *testing.T) {
	for name, mk := range map[string]func(*gPeer) Grant{
		"json":     func(p *gPeer) Grant { return gJSON(p) },
		"password": func(p *gPeer) Grant { return gPassword(p) },
	} {
		t.Run(name, func(t *testing.T) {
			p := gServer(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
				if n == 1 {
					gHangUp(w)
					return
				}
				gReply(400, "application/json", []byte(`{"error":"invalid_grant"}`))(w, nil, n)
			})
			tok, err := mk(p).Refresh(t.Context(), "rt-old")
			if tok != nil || !errors.Is(err, ErrRefreshOutcomeUnknown) || !errors.Is(err, ErrReauthRequired) {
				t.Fatalf("Refresh() = %v, %v, want ErrRefreshOutcomeUnknown and ErrReauthRequired", tok, err)
			}
			if te := gTokenError(t, err); te.StatusCode != 0 || te.Rejected {
				t.Errorf("TokenError = %+v, want no status, not rejected", te)
			}
			if got := p.hits.Load(); got != 1 {
				t.Errorf("endpoint hits = %d, want 1", got)
			}
		})
	}
}

// gHangUp closes the connection without an answer.
func gHangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestInsecureEndpoint(t *testing.T) {
	tests := []struct {
		url   string
		allow bool
		want  error
	}{
		{"http://auth.example.com/token", false, ErrInsecureEndpoint},
		{"ftp://auth.example.com/token", true, ErrInsecureEndpoint},
		{"http://auth.example.com:1/token", true, nil},
		{"http://127.0.0.1:1/token", false, nil},
		{"http://localhost:1/token", false, nil},
		{"http://LOCALHOST.:1/token", false, nil},
		{"http://[::1]:1/token", false, nil},
		{"http://evil.localhost/token", false, ErrInsecureEndpoint},
		{"http://localhost.evil.example/token", false, ErrInsecureEndpoint},
		{"https://auth.example.com/token", false, nil},
	}
	for _, tt := range tests {
		var hits atomic.Int64
		g := &JSONGrant{RefreshURL: tt.url, AllowInsecureHTTP: tt.allow, HTTPClient: gCountingClient(&hits), Retry: RetryPolicy{MaxAttempts: 1}}
		_, err := g.Refresh(t.Context(), "rt")
		if got := errors.Is(err, ErrInsecureEndpoint); got != (tt.want != nil) {
			t.Errorf("Refresh(%q, allow=%v) = %v, want ErrInsecureEndpoint %v", tt.url, tt.allow, err, tt.want != nil)
		}
		if tt.want != nil && hits.Load() != 0 {
			t.Errorf("Refresh(%q) sent a request", tt.url)
		}
	}
	g := &PasswordGrant{TokenURL: "http://auth.example.com/token", Username: "u", Password: "p"}
	if _, err := g.Login(t.Context()); !errors.Is(err, ErrInsecureEndpoint) {
		t.Errorf("PasswordGrant.Login() error = %v, want ErrInsecureEndpoint", err)
	}
	j := &JSONGrant{RefreshURL: "http://auth.example.com/refresh"}
	if _, err := j.Refresh(t.Context(), "rt"); !errors.Is(err, ErrInsecureEndpoint) {
		t.Errorf("JSONGrant.Refresh() error = %v, want ErrInsecureEndpoint", err)
	}
	// A name under .localhost may resolve anywhere: never trusted by name.
	var hits atomic.Int64
	for _, g := range []Grant{
		&PasswordGrant{TokenURL: "http://evil.localhost/token", Username: "u", Password: "p", HTTPClient: gCountingClient(&hits)},
		&JSONGrant{LoginURL: "http://evil.localhost/login", Username: "u", Password: "p", HTTPClient: gCountingClient(&hits)},
	} {
		if _, err := g.Login(t.Context()); !errors.Is(err, ErrInsecureEndpoint) {
			t.Errorf("%T.Login(http://evil.localhost) error = %v, want ErrInsecureEndpoint", g, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests went to evil.localhost", n)
	}
}

// TestSharedRetrySchedule: 1000 requests waiting on a failing token
// endpoint share the Source's single refresh and its one retry schedule, so
// the endpoint sees a few calls, not one (or four) per request.
func TestSharedRetrySchedule(t *testing.T) {
	const waiters = 1000
	release := make(chan struct{})
	p := gServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			select { // hold the first attempt until every waiter is calling
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	g := gJSON(p)
	g.Retry = RetryPolicy{MaxAttempts: 4, MinWait: 20 * time.Millisecond, MaxWait: 40 * time.Millisecond}
	src := &Source{Grant: g, Now: gNow}
	t.Cleanup(func() { src.Close(context.Background()) })

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var calling sync.WaitGroup
	calling.Add(waiters)
	errs := make(chan error, waiters)
	for range waiters {
		go func() {
			calling.Done()
			_, err := src.Token(ctx)
			errs <- err
		}()
	}
	calling.Wait()
	close(release)
	for range waiters {
		err := <-errs
		var te *TokenError
		if !errors.As(err, &te) || te.StatusCode != http.StatusServiceUnavailable || errors.Is(err, ErrReauthRequired) {
			t.Fatalf("Token() error = %v, want a transient 503 TokenError", err)
		}
	}
	// One refresh makes 4 attempts; allow a few late joiners to start
	// another, but nothing near one schedule per request.
	if n := p.hits.Load(); n < 4 || n > 4*5 {
		t.Errorf("endpoint hits = %d for %d waiting requests, want 4 (one shared schedule), at most 20", n, waiters)
	}
	t.Logf("endpoint hits = %d for %d waiting requests", p.hits.Load(), waiters)
}

// TestRetryLogging: retries are logged only through the grant's Logger,
// without secrets, and go-retryablehttp's own stderr logger is never on.
func TestRetryLogging(t *testing.T) {
	var buf bytes.Buffer
	p := gServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		gReply(200, "application/json", gFile(t, "snake.json"))(w, r, n)
	})
	g := gJSON(p)
	g.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := g.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "token endpoint retry") || !strings.Contains(out, "attempt=2") {
		t.Errorf("log = %q, want one retry record", out)
	}
	for _, secret := range []string{"wonderland", "at-snake", "rt-snake"} {
		if strings.Contains(out, secret) {
			t.Errorf("log %q leaks %q", out, secret)
		}
	}
}

// BenchmarkGrantRefresh measures one refresh per grant against a loopback
// token endpoint: request building, the retrying client, one new
// connection (each attempt closes its own), parsing.
func BenchmarkGrantRefresh(b *testing.B) {
	srv := benchTokenServer(b)
	grants := []struct {
		name string
		g    Grant
	}{
		{"password", &PasswordGrant{TokenURL: srv.URL + "/token", ClientID: "cli", ClientSecret: "s3cret", HTTPClient: srv.Client(), Now: gNow}},
		{"json", &JSONGrant{RefreshURL: srv.URL + "/refresh", HTTPClient: srv.Client(), Now: gNow}},
		{"clientcredentials", &ClientCredentialsGrant{TokenURL: srv.URL + "/token", ClientID: "cli", ClientSecret: "s3cret", HTTPClient: srv.Client(), Now: gNow}},
	}
	for _, g := range grants {
		b.Run(g.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := b.Context()
			for b.Loop() {
				var err error
				if cc, ok := g.g.(*ClientCredentialsGrant); ok {
					_, err = cc.Login(ctx)
				} else {
					_, err = g.g.Refresh(ctx, "rt-0")
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
