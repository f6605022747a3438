package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stingyResource answers "Bearer renewed-1" with 200 "ok" and anything else
// with a renewable 401 whose body is written by slow. It counts the
// connections it accepts. base is a client transport for it.
type stingyResource struct {
	srv   *httptest.Server
	base  http.RoundTripper
	conns atomic.Int32

	mu    sync.Mutex // guards auths
	auths []string
}

// newStingyResource starts the server: plain HTTP/1.1, or HTTP/2 over TLS
// if h2.
func newStingyResource(t *testing.T, h2 bool, slow func(w http.ResponseWriter, r *http.Request, stop <-chan struct{})) *stingyResource {
	t.Helper()
	s := &stingyResource{}
	stop := make(chan struct{})
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if h2 && r.ProtoMajor != 2 {
			http.Error(w, "want HTTP/2", http.StatusHTTPVersionNotSupported)
			return
		}
		if r.Header.Get("Authorization") == "Bearer renewed-1" {
			io.WriteString(w, "ok")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		slow(w, r, stop)
	}))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if h2 {
		s.srv.EnableHTTP2 = true
		s.srv.StartTLS()
		s.base = s.srv.Client().Transport // closed by srv.Close
	} else {
		s.srv.Start()
		s.base = newBase(t)
	}
	t.Cleanup(s.srv.Close)
	// Runs before srv.Close: releases handlers that are still writing.
	t.Cleanup(func() { close(stop) })
	return s
}

func (s *stingyResource) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// stall sends the 401 header and one byte, then nothing until the client
// hangs up or the test ends.
func stall(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, "d")
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-stop:
	}
}

// trickle sends the 401 header, then one byte every 10ms: each byte comes
// soon, the whole body never does.
func trickle(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
	w.WriteHeader(http.StatusUnauthorized)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := io.WriteString(w, "d"); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-stop:
			return
		}
	}
}

// fixed401 sends a complete 401 body of n bytes.
func fixed401(n int) func(http.ResponseWriter, *http.Request, <-chan struct{}) {
	return func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, strings.Repeat("d", n))
	}
}

// slowBodyDeadline bounds each slow-401 test. It is not a timing
// assertion: a fixed transport returns in about drainWait; an unfixed one
// waits for the 401 body until this deadline fails the request.
const slowBodyDeadline = 10 * time.Second

func TestSlow401BodyDoesNotHoldTheRetry(t *testing.T) {
	tests := []struct {
		name string
		h2   bool
		slow func(http.ResponseWriter, *http.Request, <-chan struct{})
	}{
		{"stalled", false, stall},
		{"trickling", false, trickle},
		{"stalled over HTTP/2", true, stall},
		{"trickling over HTTP/2", true, trickle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := newStingyResource(t, tc.h2, tc.slow)
			src := newFakeSource("t0")
			tr := &Transport{Source: src, Base: res.base}
			ctx, cancel := context.WithTimeout(context.Background(), slowBodyDeadline)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, res.srv.URL, nil)
			status, body, err := do(t, tr, req)
			if err != nil || status != http.StatusOK || body != "ok" {
				t.Fatalf("Do() = %d %q %v; want the retry's 200 ok", status, body, err)
			}
			if got := res.seen(); len(got) != 2 || got[1] != "Bearer renewed-1" {
				t.Errorf("server saw Authorization %q, want t0 then renewed-1", got)
			}
			if _, _, refreshes := src.counts(); refreshes != 1 {
				t.Errorf("refreshes = %d, want 1", refreshes)
			}
		})
	}
}

func TestSlow401BodyReturnedToCallerIsNotTruncatedSilently(t *testing.T) {
	res := newStingyResource(t, false, stall)
	src := newFakeSource("t0")
	tr := &Transport{Source: src, Base: res.base}
	ctx, cancel := context.WithTimeout(context.Background(), slowBodyDeadline)
	defer cancel()
	// A body without GetBody cannot be replayed: the 401 goes back to the
	// caller after renewal.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, res.srv.URL, io.NopCloser(strings.NewReader("payload")))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip() error = %v, want the 401", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Www-Authenticate") == "" {
		t.Errorf("RoundTrip() = %d %v, want the 401 with its challenge", resp.StatusCode, resp.Header)
	}
	got, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("reading the cut 401 body = %q, nil; want an error, not a clean end", got)
	}
	if ctx.Err() != nil {
		t.Errorf("the body was cut by the test deadline, not by the transport")
	}
	if _, _, refreshes := src.counts(); refreshes != 1 {
		t.Errorf("refreshes = %d, want 1", refreshes)
	}
}

func TestDrained401BodyKeepsTheConnection(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		wantConns int32
	}{
		{"empty", 0, 1},
		{"small", 100, 1},
		{"at the limit", drainLimit, 1},
		{"over the limit", 64 << 10, 2}, // not drained: closed instead
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := newStingyResource(t, false, fixed401(tc.size))
			tr := &Transport{Source: newFakeSource("t0"), Base: res.base}
			req, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
			if status, body, err := do(t, tr, req); err != nil || status != http.StatusOK || body != "ok" {
				t.Fatalf("Do() = %d %q %v; want 200 ok", status, body, err)
			}
			if got := res.conns.Load(); got != tc.wantConns {
				t.Errorf("server accepted %d connections, want %d", got, tc.wantConns)
			}
		})
	}
}

func TestReturned401BodyIsComplete(t *testing.T) {
	for _, size := range []int{3000, 64 << 10} {
		res := newStingyResource(t, false, fixed401(size))
		tr := &Transport{Source: newFakeSource("t0"), Base: res.base}
		// Not replayable: the 401 goes back to the caller after renewal.
		req, _ := http.NewRequest(http.MethodPost, res.srv.URL, io.NopCloser(strings.NewReader("payload")))
		status, body, err := do(t, tr, req)
		if err != nil || status != http.StatusUnauthorized || body != strings.Repeat("d", size) {
			t.Errorf("Do() = %d, %d bytes, %v; want the 401 with all %d bytes", status, len(body), err, size)
		}
	}
}
