package tokensource

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

func TestDiscoverCache(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	d, count := dDiscoverer(srv)
	clock := fakeclock.New(gNow())
	d.Now = clock.Now
	ctx := t.Context()
	first, err := d.Discover(ctx, srv.IssuerURL())
	if err != nil {
		t.Fatal(err)
	}
	first.GrantTypesSupported[0] = "changed by a caller"
	second, err := d.Discover(ctx, srv.IssuerURL())
	if err != nil || count.n.Load() != 1 {
		t.Fatalf("second Discover() = %v after %d requests, want no new request", err, count.n.Load())
	}
	if second.GrantTypesSupported[0] == "changed by a caller" {
		t.Errorf("a caller's change reached the cache")
	}
	clock.Advance(defaultDiscoveryTTL)
	if _, err := d.Discover(ctx, srv.IssuerURL()); err != nil || count.n.Load() != 2 {
		t.Errorf("Discover() after the TTL = %v after %d requests, want a second request", err, count.n.Load())
	}
}

func TestDiscoverNoCache(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	d, count := dDiscoverer(srv)
	d.TTL = -1
	for range 2 {
		if _, err := d.Discover(t.Context(), srv.IssuerURL()); err != nil {
			t.Fatal(err)
		}
	}
	if count.n.Load() != 2 {
		t.Errorf("%d requests with TTL < 0, want 2", count.n.Load())
	}
}

// TestDiscoverFailureNotCached: a failed discovery is tried again at the
// next call.
func TestDiscoverFailureNotCached(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	d, count := dDiscoverer(srv)
	d.Retry.MaxAttempts = 1
	srv.FailPath(oauthPath, 1, authtest.Fault{Status: http.StatusServiceUnavailable})
	if _, err := d.Discover(t.Context(), srv.IssuerURL()); err == nil {
		t.Fatal("Discover() during a 503 succeeded")
	}
	if _, err := d.Discover(t.Context(), srv.IssuerURL()); err != nil || count.n.Load() != 2 {
		t.Errorf("Discover() after the failure = %v after %d requests, want success on a second request", err, count.n.Load())
	}
}

func TestDiscoverConcurrent(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	srv.SetDelay(oauthPath, 100*time.Millisecond) // every caller joins the one request
	d, count := dDiscoverer(srv)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if _, err := d.Discover(t.Context(), srv.IssuerURL()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count.n.Load(); n != 1 {
		t.Errorf("100 concurrent Discover() made %d requests, want 1", n)
	}
}

// TestDiscoverDeadline: a server that never answers costs a caller no more
// than its own deadline, or the Discoverer's Timeout.
func TestDiscoverDeadline(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	srv.SetDelay(oauthPath, time.Hour)
	d, _ := dDiscoverer(srv)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Discover(ctx, srv.IssuerURL())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Discover() = %v after %v, want context.DeadlineExceeded soon", err, time.Since(start))
	}

	d.Timeout = 100 * time.Millisecond
	_, err = d.Discover(t.Context(), srv.IssuerURL())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Discover() with Timeout = %v, want context.DeadlineExceeded", err)
	}
}

// TestDiscoverCallerGivesUp: one caller's deadline does not fail another
// waiting for the same discovery.
func TestDiscoverCallerGivesUp(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	srv.SetDelay(oauthPath, time.Hour) // until StopDelays, below
	d, count := dDiscoverer(srv)
	done := make(chan error, 1)
	go func() {
		_, err := d.Discover(t.Context(), srv.IssuerURL())
		done <- err
	}()
	for count.n.Load() == 0 { // the patient caller's discovery is under way
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Discover(short, srv.IssuerURL()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: %v, want context.DeadlineExceeded", err)
	}
	srv.StopDelays() // the server answers the patient caller now
	if err := <-done; err != nil {
		t.Errorf("patient caller: %v", err)
	}
	if n := count.n.Load(); n != 1 {
		t.Errorf("%d requests, want 1 shared", n)
	}
}
