package tokensource

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestOutageFailsFastThenOneProbeRecovers: after a shared refresh failed
// on a token endpoint that answers 503 (after its retries), callers with
// no valid token get an OutageError at once instead of each starting a
// new retry sequence; once the next attempt is due, a probe sends one
// request; the first success ends the outage.
func TestOutageFailsFastThenOneProbeRecovers(t *testing.T) {
	srv, clock, src := newServerSource(t)
	src.probeBase = 10 * time.Minute // this test drives probes with the clock
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(503, 1_000_000)
	clock.Advance(time.Hour) // expired: callers must wait for a refresh
	_, err := src.Token(ctx)
	var te *TokenError
	if !errors.As(err, &te) || te.StatusCode != 503 {
		t.Fatalf("first caller = %v, want the 503 after the shared retries", err)
	}
	if got := srv.Counters().InjectedFailures; got != 3 {
		t.Fatalf("the first shared refresh made %d requests, want its 3 attempts", got)
	}

	// 1000 callers arriving after the failure all get the outage at once.
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := src.Token(ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var oe *OutageError
		if !errors.As(err, &oe) || !errors.As(err, &te) || te.StatusCode != 503 || oe.Next.IsZero() {
			t.Fatalf("caller during the outage = %v, want an OutageError carrying the last failure and the next attempt", err)
		}
	}
	onePrefix(t, "outage", func() error { _, err := src.Token(ctx); return err }())
	if got := srv.Counters().InjectedFailures; got != 3 {
		t.Fatalf("callers during the outage made %d more requests, want 0", got-3)
	}

	// The next attempt is due: one caller probes, with one request.
	clock.Advance(30 * time.Minute)
	if _, err := src.Token(ctx); !errors.As(err, &te) {
		t.Fatalf("probe = %v, want the 503", err)
	}
	if got := srv.Counters().InjectedFailures; got != 4 {
		t.Fatalf("the probe made %d requests, want 1", got-3)
	}
	var oe *OutageError
	if _, err := src.Token(ctx); !errors.As(err, &oe) {
		t.Fatalf("after a failed probe = %v, want the outage again", err)
	}

	// The endpoint recovers: the next probe succeeds.
	srv.FailNext(0, 0)
	clock.Advance(time.Hour)
	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if got := srv.Counters().Refreshes; got != 1 {
		t.Fatalf("refreshes after recovery = %d, want 1", got)
	}
}

// TestOutageProbesInTheBackground: with nobody calling, the background
// schedule probes (one request at a time) until the endpoint is back.
func TestOutageProbesInTheBackground(t *testing.T) {
	srv, clock, src := newServerSource(t)
	src.probeBase = 5 * time.Millisecond
	ev := &stEvents{}
	src.OnEvent = ev.add
	ctx := context.Background()
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(503, 1_000_000)
	clock.Advance(time.Hour)
	if _, err := src.Token(ctx); err == nil {
		t.Fatal("no failure")
	}
	waitUntil(t, "two background probes", func() bool { return ev.count(EventRefreshFailed) >= 3 })
	srv.FailNext(0, 0)
	waitUntil(t, "a probe that succeeds", func() bool { return src.state().outage == nil })
	if err := src.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.Counters().Refreshes; got != 1 {
		t.Fatalf("refreshes = %d, want 1", got)
	}
	// Every probe was one request: the first refresh's 3 attempts plus
	// one per later failed flight.
	failed := ev.count(EventRefreshFailed)
	if got, want := srv.Counters().InjectedFailures, int64(3+failed-1); got != want {
		t.Fatalf("%d requests for %d failed refreshes, want %d: a probe re-sent its request", got, failed, want)
	}
	if tok, err := src.Token(ctx); err != nil || tok == nil {
		t.Fatalf("Token after recovery = %v, %v", tok, err)
	}
}

// TestProbeDelayBounds: probes stay within the budget whatever the
// jitter: at most 2 probes in the first 5 s of an outage (beside the first
// refresh's own attempts) and at most 10 a minute in a long one.
func TestProbeDelayBounds(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		var at time.Duration
		in5s, inMinute := 0, 0
		for attempt := 0; at < 10*time.Minute; attempt++ {
			at += probeDelay(0, attempt, r)
			if at <= 5*time.Second {
				in5s++
			}
			if at > 5*time.Minute && at <= 6*time.Minute {
				inMinute++
			}
		}
		if in5s > 2 || inMinute > 10 {
			t.Errorf("jitter %v: %d probes in the first 5 s (want ≤ 2), %d in a minute of a long outage (want ≤ 10)", r, in5s, inMinute)
		}
		if d := probeDelay(0, 0, r); d > 1200*time.Millisecond {
			t.Errorf("jitter %v: first probe after %v, want about a second", r, d)
		}
	}
}

// TestOutageDoesNotTouchValidTokens: callers with a valid token never see
// the outage; a failed early refresh pauses quietly.
func TestOutageDoesNotTouchValidTokens(t *testing.T) {
	srv, clock, src := newServerSource(t)
	ctx := context.Background()
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(503, 1_000_000)
	clock.Advance(14*time.Minute + 30*time.Second) // inside the margin
	for range 100 {
		got, err := src.Token(ctx)
		if err != nil || got != tok {
			t.Fatalf("Token with a valid token during an outage = %v, %v", got, err)
		}
	}
	if err := src.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if src.state().outage != nil {
		t.Fatal("a failed early refresh recorded an outage while the token still serves")
	}
}
