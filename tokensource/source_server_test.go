package tokensource

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/storage/memory"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

func newServerSource(t *testing.T) (*authtest.Server, *fakeclock.Clock, *Source) {
	t.Helper()
	clock := newSTClock()
	srv := authtest.NewServer(t, authtest.Options{Now: clock.Now})
	src := &Source{
		Grant: &JSONGrant{
			LoginURL: srv.LoginURL(), RefreshURL: srv.RefreshURL(),
			Username: "alice", Password: "wonderland", Now: clock.Now,
			Retry: RetryPolicy{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond},
		},
		Store: &memory.Store{}, Now: clock.Now,
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = src.Close(ctx)
	})
	return srv, clock, src
}

// TestSourceFailingEndpointSharesOneRetrySchedule: 1000 callers waiting on
// a token endpoint that answers 503 cost one refresh with its bounded
// retries, not one per caller.
func TestSourceFailingEndpointSharesOneRetrySchedule(t *testing.T) {
	srv, clock, src := newServerSource(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	srv.FailPath(srv.RefreshURL(), 1_000_000, authtest.Fault{Status: 503, Body: "<html><body>Service Unavailable</body></html>"})
	clock.Advance(time.Hour)

	var wg sync.WaitGroup
	errs := make([]error, 1000)
	for i := range errs {
		wg.Go(func() { _, errs[i] = src.Token(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		var te *TokenError
		if !errors.As(err, &te) || te.StatusCode != 503 || errors.Is(err, ErrReauthRequired) {
			t.Fatalf("caller %d: err = %v, want a transient *TokenError with status 503", i, err)
		}
	}
	st := srv.Counters()
	// Callers that arrive after the shared refresh failed may start one more,
	// so allow a few schedules, never one per caller.
	if st.InjectedFailures < 3 || st.InjectedFailures > 3*5 {
		t.Fatalf("token endpoint saw %d calls for 1000 waiting callers, want one or a few schedules of 3", st.InjectedFailures)
	}
	if st.Logins != 1 {
		t.Fatalf("logins = %d: a transient failure must not lead to re-login", st.Logins)
	}
	t.Logf("1000 waiting callers: the failing token endpoint saw %d calls", st.InjectedFailures)
}

// TestSourceRevokedFamilyLogsIn: a refresh token the server revoked leads
// to exactly one re-login, and the session goes on.
func TestSourceRevokedFamilyLogsIn(t *testing.T) {
	srv, clock, src := newServerSource(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.RevokeAll()
	clock.Advance(time.Hour)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if tok, err := src.Token(ctx); err != nil || tok.AccessToken == first.AccessToken {
				t.Errorf("Token() = %v, %v", tok, err)
			}
		})
	}
	wg.Wait()
	if st := srv.Counters(); st.Logins != 2 || st.FailedRefreshes != 1 || st.Reuses != 0 {
		t.Fatalf("stats %+v: want 2 logins, 1 failed refresh, no reuse", st)
	}
}
