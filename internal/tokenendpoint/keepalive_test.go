package tokenendpoint

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// connCounter is a loopback server that counts the connections it
// accepted.
func connCounter(t *testing.T) (*httptest.Server, func() int) {
	t.Helper()
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"a","token_type":"bearer"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return conns }
}

// TestConnectionReuse: the built-in client reuses a connection only
// briefly (keepAlive) and a caller's HTTPClient, whose idle timeout is
// unknown, gets a connection of its own per attempt.
func TestConnectionReuse(t *testing.T) {
	t.Run("built-in client", func(t *testing.T) {
		srv, conns := connCounter(t)
		c := &Client{AllowInsecure: true}
		for range 3 {
			if _, f := c.Do(context.Background(), &Call{URL: srv.URL, Refresh: true}); f != nil {
				t.Fatal(f)
			}
		}
		if got := conns(); got != 1 {
			t.Fatalf("3 back-to-back calls used %d connections, want 1 (reused within %v)", got, keepAlive)
		}
		if tr := defaultTransport.(*http.Transport); tr.IdleConnTimeout != keepAlive {
			t.Fatalf("built-in transport keeps idle connections %v, want %v", tr.IdleConnTimeout, keepAlive)
		}
	})
	t.Run("caller's client", func(t *testing.T) {
		srv, conns := connCounter(t)
		c := &Client{HTTPClient: srv.Client(), AllowInsecure: true}
		for range 3 {
			if _, f := c.Do(context.Background(), &Call{URL: srv.URL, Refresh: true}); f != nil {
				t.Fatal(f)
			}
		}
		if got := conns(); got != 3 {
			t.Fatalf("3 calls through a caller's client used %d connections, want 3 (Connection: close)", got)
		}
	})
}
