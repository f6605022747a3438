package transport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// killingServer is an authorization server and resource in one that, like
// go-oauth2 and Ory Hydra, kills the old access token when it refreshes.
type killingServer struct {
	mu        sync.Mutex
	seq       int
	valid     string
	gate      chan struct{} // Refresh waits for it
	refreshed chan struct{} // closed when Refresh has killed the old token
	once      sync.Once
	started   chan struct{} // receives when Refresh starts
	arrived   chan struct{} // receives when the upload reaches the resource
	uploaded  []string      // Authorization of each upload received
}

func (k *killingServer) issue() *tokensource.Token {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seq++
	k.valid = fmt.Sprintf("at-%d", k.seq)
	now := time.Now()
	// Issued ten minutes ago, 30 s left: inside the early-refresh margin.
	return &tokensource.Token{AccessToken: k.valid, RefreshToken: fmt.Sprintf("rt-%d", k.seq),
		IssuedAt: now.Add(-10 * time.Minute), Expiry: now.Add(30 * time.Second)}
}

func (k *killingServer) Login(ctx context.Context) (*tokensource.Token, error) { return k.issue(), nil }

func (k *killingServer) Refresh(ctx context.Context, rt string) (*tokensource.Token, error) {
	select {
	case k.started <- struct{}{}:
	default:
	}
	select {
	case <-k.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	tok := k.issue()
	k.once.Do(func() { close(k.refreshed) })
	return tok, nil
}

func (k *killingServer) serve(w http.ResponseWriter, r *http.Request) {
	k.arrived <- struct{}{}
	body, _ := io.ReadAll(r.Body)
	// The upload takes a while: the refresh finishes meanwhile.
	<-k.refreshed
	k.mu.Lock()
	k.uploaded = append(k.uploaded, r.Header.Get("Authorization"))
	ok := r.Header.Get("Authorization") == "Bearer "+k.valid && string(body) == "payload"
	k.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "stored")
}

// TestUnreplayableBodyWaitsForTheRefreshInFlight: a request whose body
// cannot be replayed does not race a background refresh against a server
// that kills the old access token on refresh; it waits and goes out with
// the new token.
func TestUnreplayableBodyWaitsForTheRefreshInFlight(t *testing.T) {
	k := &killingServer{gate: make(chan struct{}), refreshed: make(chan struct{}), started: make(chan struct{}, 1), arrived: make(chan struct{}, 2)}
	srv := httptest.NewServer(http.HandlerFunc(k.serve))
	defer srv.Close()
	src := &tokensource.Source{Grant: k}
	defer src.Close(context.Background())
	ctx := context.Background()
	if _, err := src.Token(ctx); err != nil { // login
		t.Fatal(err)
	}
	if _, err := src.Token(ctx); err != nil { // due: the background refresh starts
		t.Fatal(err)
	}
	<-k.started

	client := &http.Client{Transport: &Transport{Source: src}, Timeout: 30 * time.Second}
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		// io.NopCloser hides the reader from http.NewRequest: no GetBody.
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/upload", io.NopCloser(strings.NewReader("payload")))
		resp, err := client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	// Let the refresh finish once the upload is under way (or, when the
	// upload rightly waits for the refresh, after a moment).
	select {
	case <-k.arrived:
	case <-time.After(50 * time.Millisecond):
	}
	close(k.gate)
	r := <-done
	if r.err != nil || r.status != http.StatusOK {
		k.mu.Lock()
		defer k.mu.Unlock()
		t.Fatalf("upload = %d, %v (sent with %v); want 200: it must wait for the refresh in flight", r.status, r.err, k.uploaded)
	}
}

// TestReplayableBodyKeepsTheLockFreePath: a request that can be replayed
// does not wait for a background refresh.
func TestReplayableBodyKeepsTheLockFreePath(t *testing.T) {
	k := &killingServer{gate: make(chan struct{}), refreshed: make(chan struct{}), started: make(chan struct{}, 1), arrived: make(chan struct{}, 2)}
	src := &tokensource.Source{Grant: k}
	ctx := context.Background()
	defer func() {
		close(k.gate)
		src.Close(ctx)
	}()
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	<-k.started
	var sent string
	tr := &Transport{Source: src, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r.Header.Get("Authorization")
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})}
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1/upload", strings.NewReader("payload"))
	done := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a replayable request waited for the refresh in flight")
	}
	if sent != "Bearer at-1" {
		t.Fatalf("sent %q, want the current token at once", sent)
	}
}
