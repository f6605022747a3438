package authtest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestFailPath(t *testing.T) {
	s := NewServer(t, Options{})
	const html = "<html><body>502 Bad Gateway</body></html>"
	s.FailPath("/auth/login", 2, Fault{Status: http.StatusBadGateway, Body: html})
	for i := range 2 {
		r := postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`)
		if r.status != http.StatusBadGateway || string(r.body) != html || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("attempt %d = %d %q %q, want 502 HTML", i, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	login(t, s.URL) // third succeeds
	s.FailPath(s.RefreshURL(), 1, Fault{Status: http.StatusServiceUnavailable, Body: `{"error":"temporarily_unavailable"}`})
	r := refresh(t, s.URL, "rt_whatever")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("injected JSON = %d %q", r.status, r.header.Get("Content-Type"))
	}
	s.FailPath("/api/items", 5, Fault{Status: 500})
	s.FailPath("/api/items", 0, Fault{Status: 500}) // cleared
	if got := get(t, s.URL, "/api/items", ""); got.status != http.StatusUnauthorized {
		t.Errorf("after clearing: %d, want the real 401", got.status)
	}
	s.FailPath("/x", 1, Fault{Body: "bad status"})
	if got := get(t, s.URL, "/x", ""); got.status != http.StatusInternalServerError {
		t.Errorf("invalid status injected as %d, want 500", got.status)
	}
	if st := s.Counters(); st.InjectedFailures != 4 || st.Logins != 1 {
		t.Errorf("Counters() = %+v, want 4 injected, 1 login", st)
	}
}

// waitFor polls cond up to a generous bound; it fails the test if cond never
// holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestSetDelayHonoursCancellation(t *testing.T) {
	s := newServer(Options{})
	ts := newClosableServer(t, s)
	s.SetDelay("/auth/login", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/auth/login", nil)
		resp, err := ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "the request to be delayed", func() bool { return s.waiting.Load() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v, want context.Canceled", err)
	}
	// The server-side wait ends too, so Close does not hang for an hour.
	waitFor(t, "the delayed handler to return", func() bool { return s.waiting.Load() == 0 })
	closeWithin(t, ts, 30*time.Second)
	if st := s.Counters(); st.Logins+st.FailedLogins != 0 {
		t.Errorf("abandoned request was served: %+v", st)
	}
}

func TestStopDelays(t *testing.T) {
	s := NewServer(t, Options{})
	s.SetDelay("/api/profile", time.Hour)
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/profile", nil)
		resp, err := s.Client().Do(req)
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	waitFor(t, "the request to be delayed", func() bool { return s.waiting.Load() == 1 })
	s.StopDelays()
	if got := <-done; got != http.StatusUnauthorized {
		t.Errorf("delayed request answered %d after StopDelays, want 401", got)
	}
	s.SetDelay("/api/profile", 0)
	s.StopDelays() // idempotent
}
