package authtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// endpoint is one of the two token APIs: the JSON API or RFC 6749.
type endpoint struct {
	name        string
	refreshPath string
	loginPath   string
	// loginReq and refreshReq build requests against base.
	loginReq   func(t *testing.T, base, user, pass string) *http.Request
	refreshReq func(t *testing.T, base, rt string) *http.Request
}

func endpoints() []endpoint {
	return []endpoint{
		{
			name: "json", refreshPath: "/auth/refresh", loginPath: "/auth/login",
			loginReq: func(t *testing.T, base, user, pass string) *http.Request {
				b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
				return newReq(t, base+"/auth/login", "application/json", string(b))
			},
			refreshReq: func(t *testing.T, base, rt string) *http.Request {
				b, _ := json.Marshal(map[string]string{"refresh_token": rt})
				return newReq(t, base+"/auth/refresh", "application/json", string(b))
			},
		},
		{
			name: "oauth2", refreshPath: "/oauth2/token", loginPath: "/oauth2/token",
			loginReq: func(t *testing.T, base, user, pass string) *http.Request {
				v := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
				return newReq(t, base+"/oauth2/token", "application/x-www-form-urlencoded", v.Encode())
			},
			refreshReq: func(t *testing.T, base, rt string) *http.Request {
				v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
				return newReq(t, base+"/oauth2/token", "application/x-www-form-urlencoded", v.Encode())
			},
		},
	}
}

func newReq(t *testing.T, u, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return req
}

// login logs alice in through e and returns the pair.
func (e endpoint) login(t *testing.T, base string) (access, refresh string) {
	t.Helper()
	r := do(t, e.loginReq(t, base, "alice", "wonderland"))
	if r.status != http.StatusOK {
		t.Fatalf("%s login: status %d, body %s", e.name, r.status, r.body)
	}
	return r.str("access_token"), r.str("refresh_token")
}

func (e endpoint) refresh(t *testing.T, base, rt string) reply {
	t.Helper()
	return do(t, e.refreshReq(t, base, rt))
}

// noRedirects is a client that returns redirects instead of following them.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// doWith is do with client c; it closes c's idle connections afterwards.
func doWith(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	defer c.CloseIdleConnections()
	return send(t, c, req)
}

// sendRaw writes req whole on a new TCP connection to its host, then reads
// until the server closes the connection; it returns what was read and the
// read error (nil for a clean EOF).
func sendRaw(t *testing.T, req *http.Request) ([]byte, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", req.URL.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := req.Write(conn); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	return io.ReadAll(bufio.NewReader(conn))
}

// liveRefreshTokens counts refresh tokens the server would still accept
// (neither spent nor revoked nor expired at the server's now).
func liveRefreshTokens(s *Server) int {
	now := s.now()
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	n := 0
	for _, e := range s.tokens.refresh {
		if !e.spent && !e.fam.revoked && now.Before(e.expiry) {
			n++
		}
	}
	return n
}
