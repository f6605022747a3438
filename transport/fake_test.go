package transport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// fakeSource is a hand-written Source and Renewer. Renew follows the
// tokensource contract: a rejected token that is not the current one gets
// the current one back without a "refresh".
type fakeSource struct {
	mu sync.Mutex
	// cur is the current token; refreshes counts how often Renew replaced it.
	cur        *tokensource.Token
	stale      *tokensource.Token // if set, returned by the next Token call only
	gen        int
	tokenCalls int
	renewCalls int
	refreshes  int
	tokenErr   error
	renewErr   error
}

func newFakeSource(access string) *fakeSource {
	return &fakeSource{cur: &tokensource.Token{AccessToken: access, TokenType: "bearer"}}
}

func (f *fakeSource) Token(ctx context.Context) (*tokensource.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenCalls++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.tokenErr != nil {
		return nil, f.tokenErr
	}
	if s := f.stale; s != nil {
		f.stale = nil
		return s, nil
	}
	return f.cur, nil
}

func (f *fakeSource) Renew(ctx context.Context, rejected *tokensource.Token) (*tokensource.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renewCalls++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.renewErr != nil {
		return nil, f.renewErr
	}
	if rejected.AccessToken != f.cur.AccessToken {
		return f.cur, nil
	}
	f.gen++
	f.refreshes++
	f.cur = &tokensource.Token{AccessToken: fmt.Sprintf("renewed-%d", f.gen), TokenType: "Bearer"}
	return f.cur, nil
}

func (f *fakeSource) counts() (token, renew, refreshes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.renewCalls, f.refreshes
}

// plainSource hides Renew: a Source that cannot renew.
type plainSource struct{ Source }

// seen is one request as the resource server received it.
type seen struct {
	path, auth, body string
}

// resource is a protected resource on a real loopback server. It accepts
// "Bearer <valid>" and answers anything else with 401 and challenge.
type resource struct {
	srv *httptest.Server

	mu        sync.Mutex // guards the fields below
	valid     string
	challenge string // WWW-Authenticate on 401; "" sends none
	seen      []seen
}

func newResource(t *testing.T, valid, challenge string) *resource {
	t.Helper()
	r := &resource{valid: valid, challenge: challenge}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *resource) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	auth := req.Header.Get("Authorization")
	r.mu.Lock()
	r.seen = append(r.seen, seen{path: req.URL.Path, auth: auth, body: string(body)})
	ok := auth == "Bearer "+r.valid
	challenge := r.challenge
	r.mu.Unlock()
	if !ok {
		if challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "denied")
		return
	}
	io.WriteString(w, "ok")
}

func (r *resource) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.seen...)
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeTracker is a request body that records whether it was closed.
type closeTracker struct {
	io.Reader
	mu     sync.Mutex
	closed bool
}

func (c *closeTracker) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *closeTracker) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// events records what a Transport reports.
type events struct {
	mu    sync.Mutex
	kinds []tokensource.EventKind
}

func (e *events) add(ev tokensource.Event) {
	e.mu.Lock()
	e.kinds = append(e.kinds, ev.Kind)
	e.mu.Unlock()
}

func (e *events) count(k tokensource.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, got := range e.kinds {
		if got == k {
			n++
		}
	}
	return n
}

// do sends req through tr with a client that has its own connections, and
// returns status and body.
func do(t *testing.T, tr *Transport, req *http.Request) (int, string, error) {
	t.Helper()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp.StatusCode, string(b), nil
}

// newBase returns an http.Transport whose idle connections are closed at
// the end of the test (goleak checks for leftover goroutines).
func newBase(t *testing.T) *http.Transport {
	t.Helper()
	b := &http.Transport{}
	t.Cleanup(b.CloseIdleConnections)
	return b
}
