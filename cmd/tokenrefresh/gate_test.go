package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// gate is a reverse proxy in front of a demo server that can hang chosen
// paths, the way a stopped or overloaded server does: a hung request waits
// until its client gives up (or the test ends), and the test learns when
// one arrived. It can also refuse OAuth2 client authentication by HTTP
// Basic, as a server configured for form credentials does.
type gate struct {
	URL string
	srv *authtest.Server
	// arrived receives the path of each hung request as it arrives.
	arrived chan string

	mu sync.Mutex // guards the fields below
	// hung holds the paths that hang.
	hung map[string]bool
	// refuseBasic makes /oauth2/token and /oauth2/revoke answer a
	// request with Basic credentials with 401 invalid_client.
	refuseBasic bool
	// basic and form count the client authentications seen each way.
	basic, form int
}

func newGate(t *testing.T, srv *authtest.Server) *gate {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g := &gate{srv: srv, arrived: make(chan string, 16), hung: map[string]bool{}}
	released := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		hang, refuse := g.hung[r.URL.Path], g.refuseBasic
		if r.URL.Path == "/oauth2/token" || r.URL.Path == "/oauth2/revoke" {
			if _, _, ok := r.BasicAuth(); ok {
				g.basic++
			} else {
				g.form++
			}
		}
		g.mu.Unlock()
		if hang {
			select {
			case g.arrived <- r.URL.Path:
			default:
			}
			select {
			case <-r.Context().Done():
			case <-released:
			}
			return
		}
		if _, _, ok := r.BasicAuth(); ok && refuse && (r.URL.Path == "/oauth2/token" || r.URL.Path == "/oauth2/revoke") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"client credentials must be in the form"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(released) }) // runs first: no handler outlives the test
	g.URL = hs.URL
	return g
}

// hang makes requests to path hang until their client gives up.
func (g *gate) hang(path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hung[path] = true
}

// unhang lets requests to path through again.
func (g *gate) unhang(path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.hung, path)
}

// awaitArrival waits until a hung request reaches the gate, or fails the
// test when the command ended first or after a generous time.
func (g *gate) awaitArrival(t *testing.T, done <-chan struct{}) string {
	t.Helper()
	select {
	case p := <-g.arrived:
		return p
	case <-done:
		t.Fatal("the command ended before its request reached the hung server")
	case <-time.After(30 * time.Second):
		t.Fatal("no request reached the hung server within 30s")
	}
	return ""
}

// clientAuth returns how many token-endpoint requests authenticated the
// client by Basic and by form.
func (g *gate) clientAuth() (basic, form int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.basic, g.form
}
