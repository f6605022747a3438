package tokenendpoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hungServer answers nothing until the test ends; it counts requests and
// sends on arrived at each.
func hungServer(t *testing.T, headersFirst bool) (*httptest.Server, *atomic.Int32, chan struct{}) {
	t.Helper()
	var n atomic.Int32
	release, arrived := make(chan struct{}), make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		arrived <- struct{}{}
		if headersFirst {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"access_token":`))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &n, arrived
}

// TestAttemptTimeout: HTTPClient.Timeout bounds each attempt, reading the
// body included, as http.Client.Timeout does; a timed-out attempt that was
// sent is not re-sent.
func TestAttemptTimeout(t *testing.T) {
	t.Run("no answer", func(t *testing.T) {
		srv, n, _ := hungServer(t, false)
		c := &Client{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}
		_, f := c.Do(context.Background(), &Call{URL: srv.URL, Refresh: true})
		if f == nil || f.Kind != KindTransport || !errors.Is(f.Err, context.DeadlineExceeded) || !f.Unknown {
			t.Fatalf("Do() failure = %+v, want a transport deadline with an unknown outcome", f)
		}
		if got := n.Load(); got != 1 {
			t.Fatalf("server saw %d requests, want 1", got)
		}
	})
	t.Run("body stalls", func(t *testing.T) {
		srv, _, _ := hungServer(t, true)
		c := &Client{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}}
		r, f := c.Do(context.Background(), &Call{URL: srv.URL, Refresh: true})
		if f != nil || r.ReadErr == nil {
			t.Fatalf("Do() = %+v, %+v; want a reply whose body could not be read", r, f)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		srv, _, arrived := hungServer(t, false)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		_, f := (&Client{AllowInsecure: true}).Do(ctx, &Call{URL: srv.URL})
		if f == nil || f.Kind != KindTransport || !errors.Is(f.Err, context.Canceled) {
			t.Fatalf("Do() failure = %+v, want the caller's cancellation", f)
		}
	})
}

// countingTransport counts the requests it carries.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestSharedEngineKeepsCallsApart: Clients with the same Retry share a
// retrying client, yet each call goes through its own HTTPClient's
// transport, concurrently.
func TestSharedEngineKeepsCallsApart(t *testing.T) {
	srv, _ := connCounter(t)
	if engine(Retry{}, nil) != engine(Retry{MaxAttempts: defaultMaxAttempts}, nil) {
		t.Fatal("the zero Retry and the defaults spelled out have different retrying clients")
	}
	const clients, calls = 4, 20
	tr := make([]countingTransport, clients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &Client{HTTPClient: &http.Client{Transport: &tr[i]}}
		for range calls {
			wg.Go(func() {
				if _, f := c.Do(context.Background(), &Call{URL: srv.URL}); f != nil {
					t.Error(f)
				}
			})
		}
	}
	wg.Wait()
	for i := range tr {
		if got := tr[i].n.Load(); got != calls {
			t.Errorf("client %d's transport carried %d requests, want %d", i, got, calls)
		}
	}
}

// TestCookieJar: a caller's HTTPClient with a Jar keeps getting its
// cookies stored and sent.
func TestCookieJar(t *testing.T) {
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("s"); err == nil {
			seen.Store(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "v1"})
		fmt.Fprint(w, `{"access_token":"a"}`)
	}))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &Client{HTTPClient: &http.Client{Jar: jar}}
	for range 2 {
		if _, f := c.Do(context.Background(), &Call{URL: srv.URL}); f != nil {
			t.Fatal(f)
		}
	}
	if got, _ := seen.Load().(string); got != "v1" {
		t.Fatalf("second request carried cookie %q, want v1", got)
	}
}
