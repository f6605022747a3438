package tokensource

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// gGrants builds each grant against a peer.
var gGrants = []struct {
	name string
	mk   func(*gPeer) Grant
}{
	{"json", func(p *gPeer) Grant { return gJSON(p) }},
	{"password", func(p *gPeer) Grant { return gPassword(p) }},
}

// sent counts the requests p received that carried s.
func (p *gPeer) sent(s string) int {
	n := 0
	for _, r := range p.requests() {
		if strings.Contains(r.body, s) {
			n++
		}
	}
	return n
}

// gRotating answers a refresh by rotating and a login with a fresh token,
// after fault has had its say on attempt n (fault returns true when it
// answered).
func gRotating(fault func(w http.ResponseWriter, r *http.Request, n int64) bool) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, r *http.Request, n int64) {
		if fault(w, r, n) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":"rt-new-%d","token_type":"bearer","expires_in":900}`, n, n)
	}
}

// TestRefreshSentAtMostOnce drives each fault of the token endpoint and
// counts how often the refresh token reached the server.
func TestRefreshSentAtMostOnce(t *testing.T) {
	status := func(code int, header ...string) func(http.ResponseWriter, *http.Request, int64) bool {
		return func(w http.ResponseWriter, r *http.Request, n int64) bool {
			if n > 1 {
				return false
			}
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			return true
		}
	}
	tests := []struct {
		name      string
		fault     func(http.ResponseWriter, *http.Request, int64) bool
		wantSent  int
		wantOK    bool
		wantCode  int
		wantIs    []error
		wantIsNot []error
	}{
		{"rotate then 504", status(http.StatusGatewayTimeout), 1, false, 504,
			[]error{ErrRefreshOutcomeUnknown, ErrReauthRequired}, []error{ErrRedirect}},
		{"rotate then reset", func(w http.ResponseWriter, _ *http.Request, n int64) bool {
			if n == 1 {
				gHangUp(w)
			}
			return n == 1
		}, 1, false, 0, []error{ErrRefreshOutcomeUnknown, ErrReauthRequired}, nil},
		{"500 then ok", status(500), 1, false, 500, []error{ErrRefreshOutcomeUnknown}, nil},
		{"502 then ok", status(502), 1, false, 502, []error{ErrRefreshOutcomeUnknown}, nil},
		{"503 then ok", status(503), 2, true, 0, nil, nil},
		{"503 with Retry-After then ok", status(503, "Retry-After", "1"), 2, true, 0, nil, nil},
		{"503 twice then ok", func(w http.ResponseWriter, _ *http.Request, n int64) bool {
			if n <= 2 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(503)
			}
			return n <= 2
		}, 3, true, 0, nil, nil},
		{"429 then ok", status(429, "Retry-After", "3"), 2, true, 0, nil, nil},
		{"501", status(501), 1, false, 501, nil, []error{ErrRefreshOutcomeUnknown, ErrReauthRequired}},
		{"unreadable body", func(w http.ResponseWriter, _ *http.Request, n int64) bool {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			fmt.Fprint(w, `{"access_token":"at-cut","refresh_token":"rt-cu`)
			return true // the server closes the connection 953 bytes short
		}, 1, false, 200, []error{ErrRefreshOutcomeUnknown}, nil},
	}
	for _, tt := range tests {
		for _, g := range gGrants {
			t.Run(tt.name+"/"+g.name, func(t *testing.T) {
				p := gServer(t, gRotating(tt.fault))
				tok, err := g.mk(p).Refresh(t.Context(), "rt-spendable")
				if n := p.sent("rt-spendable"); n != tt.wantSent {
					t.Errorf("the refresh token reached the server %d times, want %d", n, tt.wantSent)
				}
				if tt.wantOK {
					if err != nil || tok.AccessToken == "" || !strings.HasPrefix(tok.RefreshToken, "rt-new-") {
						t.Fatalf("Refresh() = %v, %v, want the rotated token", tok, err)
					}
					return
				}
				if tok != nil {
					t.Errorf("Refresh() token = %v, want nil", tok)
				}
				te := gTokenError(t, err)
				if te.StatusCode != tt.wantCode || te.Rejected {
					t.Errorf("TokenError = %+v, want status %d, not rejected", te, tt.wantCode)
				}
				for _, target := range tt.wantIs {
					if !errors.Is(err, target) {
						t.Errorf("errors.Is(%v, %v) = false", err, target)
					}
				}
				for _, target := range tt.wantIsNot {
					if errors.Is(err, target) {
						t.Errorf("errors.Is(%v, %v) = true", err, target)
					}
				}
			})
		}
	}
}

// TestLoginSentOnce: a wrong password answered 500 is not re-sent (that
// locks accounts), and the failure is transient, not a rejection.
func TestLoginSentOnce(t *testing.T) {
	for _, g := range gGrants {
		t.Run(g.name, func(t *testing.T) {
			p := gServer(t, gReply(500, "text/html", []byte("<html><body>Internal Server Error</body></html>")))
			tok, err := g.mk(p).Login(t.Context())
			if n := p.sent("wonderland"); n != 1 {
				t.Errorf("the password reached the server %d times, want 1", n)
			}
			te := gTokenError(t, err)
			if tok != nil || te.StatusCode != 500 || te.Rejected || errors.Is(err, ErrReauthRequired) || errors.Is(err, ErrRefreshOutcomeUnknown) {
				t.Errorf("Login() = %v, %v, want a transient 500", tok, err)
			}
			p = gServer(t, gReply(401, "application/json", []byte(`{"error":"invalid_grant"}`)))
			if _, err := g.mk(p).Login(t.Context()); !errors.Is(err, ErrReauthRequired) || p.sent("wonderland") != 1 {
				t.Errorf("Login() with a rejected password = %v after %d requests, want ErrReauthRequired after 1", err, p.sent("wonderland"))
			}
		})
	}
}

// TestRevokeNotResent: a logout answered 502 is final and transient.
func TestRevokeNotResent(t *testing.T) {
	for _, g := range gGrants {
		t.Run(g.name, func(t *testing.T) {
			p := gServer(t, gReply(502, "", nil))
			err := g.mk(p).(Revoker).Revoke(t.Context(), &Token{AccessToken: "at-x", RefreshToken: "rt-x"})
			te := gTokenError(t, err)
			if te.Op != "revoke" || te.StatusCode != 502 || errors.Is(err, ErrReauthRequired) || p.hits.Load() != 1 {
				t.Errorf("Revoke() = %v after %d requests, want a transient 502 after 1", err, p.hits.Load())
			}
		})
	}
}

// TestRetryDialFailure: a request whose connection could not be made (or
// whose request could not be written) never reached the server and is
// re-sent; the server sees it once. In "write" mode the request is larger
// than the transport's write buffer, so the failed write is reported before
// the request is complete (a small request is buffered whole, and a failure
// to flush it counts as sent: nothing can tell how much the server got).
func TestRetryDialFailure(t *testing.T) {
	for _, mode := range []string{"dial", "write"} {
		for _, g := range gGrants {
			t.Run(mode+"/"+g.name, func(t *testing.T) {
				p := gServer(t, gRotating(func(http.ResponseWriter, *http.Request, int64) bool { return false }))
				var dials atomic.Int64
				tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					first := dials.Add(1) == 1
					if first && mode == "dial" {
						return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
					}
					var d net.Dialer
					c, err := d.DialContext(ctx, network, addr)
					if err != nil || !first {
						return c, err
					}
					return failingConn{c}, nil
				}}
				t.Cleanup(tr.CloseIdleConnections)
				grant := g.mk(p)
				pad := strings.Repeat("p", 16<<10)
				switch x := grant.(type) {
				case *JSONGrant:
					x.HTTPClient = &http.Client{Transport: tr}
					x.Header = http.Header{"X-Pad": {pad}}
				case *PasswordGrant:
					x.HTTPClient = &http.Client{Transport: tr}
					x.ClientID = pad
				}
				tok, err := grant.Refresh(t.Context(), "rt-spendable")
				if err != nil || tok.AccessToken == "" {
					t.Fatalf("Refresh() = %v, %v, want a token after one retry", tok, err)
				}
				if n, d := p.sent("rt-spendable"), dials.Load(); n != 1 || d != 2 {
					t.Errorf("server saw the refresh token %d times over %d connections, want 1 over 2", n, d)
				}
			})
		}
	}
}

// failingConn is a connection on which nothing can be written.
type failingConn struct{ net.Conn }

func (c failingConn) Write([]byte) (int, error) {
	c.Conn.Close()
	return 0, errors.New("write: broken pipe")
}

// TestRefreshCanceledInFlight: a caller that gives up after the request was
// written leaves the outcome unknown.
func TestRefreshCanceledInFlight(t *testing.T) {
	for _, g := range gGrants {
		t.Run(g.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			p := gServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
				cancel()
				<-r.Context().Done() // the client hangs up
			})
			_, err := g.mk(p).Refresh(ctx, "rt-spendable")
			if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRefreshOutcomeUnknown) {
				t.Errorf("Refresh() error = %v, want context.Canceled and ErrRefreshOutcomeUnknown", err)
			}
			if n := p.sent("rt-spendable"); n != 1 {
				t.Errorf("the refresh token reached the server %d times, want 1", n)
			}
		})
	}
}

// TestSourceNeverResendsLostRefresh reproduces the measured bug: a token
// endpoint that drops the connection after reading every refresh request.
// Over three renewals each refresh token reaches the server at most once;
// the Source logs in instead of re-sending.
func TestSourceNeverResendsLostRefresh(t *testing.T) {
	var refreshes atomic.Int64
	p := gServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if r.URL.Path == "/refresh" {
			refreshes.Add(1)
			gHangUp(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":"rt-%d","expires_in":900}`, n, n)
	})
	src := &Source{Grant: gJSON(p), Now: gNow}
	t.Cleanup(func() { src.Close(context.Background()) })
	for i := range 3 {
		tok, err := src.Token(t.Context())
		if err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
		if _, err := src.Renew(t.Context(), tok); err != nil {
			t.Fatalf("renewal %d: Renew: %v", i, err)
		}
	}
	seen := map[string]int{}
	for _, r := range p.requests() {
		if r.path != "/refresh" {
			continue
		}
		seen[r.body]++
	}
	for body, n := range seen {
		if n > 1 {
			t.Errorf("refresh request %s reached the server %d times", body, n)
		}
	}
	if refreshes.Load() == 0 {
		t.Errorf("no refresh was tried")
	}
}

// dropFirst closes the first connection it accepts, before any TLS
// handshake.
type dropFirst struct {
	net.Listener
	dropped atomic.Bool
}

func (l *dropFirst) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.dropped.Swap(true) {
			return c, err
		}
		c.Close()
	}
}

// TestRetryTLSHandshakeFailure: a TLS handshake that fails (the server
// hangs up) never carried the request: re-sent. A certificate the client
// does not trust is not retried, and nothing was sent either.
func TestRetryTLSHandshakeFailure(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(gFile(t, "snake.json"))
	}))
	srv.Listener = &dropFirst{Listener: srv.Listener}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	g := &JSONGrant{RefreshURL: srv.URL + "/refresh", HTTPClient: srv.Client(), Retry: gFast(), Now: gNow}
	tok, err := g.Refresh(t.Context(), "rt-old")
	if err != nil || tok.RefreshToken != "rt-snake" || hits.Load() != 1 {
		t.Fatalf("Refresh() = %v, %v after %d requests, want the token after 1", tok, err, hits.Load())
	}

	var attempts atomic.Int64
	g = &JSONGrant{RefreshURL: srv.URL + "/refresh", HTTPClient: gCountingClient(&attempts), Retry: gFast(), Now: gNow}
	_, err = g.Refresh(t.Context(), "rt-old")
	if errors.Is(err, ErrReauthRequired) || attempts.Load() != 1 || hits.Load() != 1 {
		t.Errorf("Refresh() with an untrusted certificate = %v after %d attempts, want one transient failure", err, attempts.Load())
	}
}
