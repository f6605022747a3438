package tokensource

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// expireAndGet moves past the access token's expiry and asks for a token,
// returning the error (nil on success).
func expireAndGet(e *stEnv) (*Token, error) {
	e.clock.Advance(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.src.Token(ctx)
}

// sameStoreSource is a second Source on e's store, as another process
// (or the next run) would have.
func sameStoreSource(e *stEnv, store storage.Store) *Source {
	return &Source{Grant: e.grant, Store: store, Key: "k", Now: e.clock.Now, OnEvent: e.ev.add}
}

func TestSourceOutcomeUnknownLogsInInsteadOfReplaying(t *testing.T) {
	e := newSTEnv(t)
	stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.lostNext = 1 })
	if _, err := expireAndGet(e); err != nil {
		t.Fatalf("Token after a lost refresh answer: %v", err)
	}
	logins, refreshes, reuses := e.grant.counts()
	if logins != 2 || refreshes != 1 || reuses != 0 || e.grant.maxSent() != 1 {
		t.Fatalf("logins, refreshes, reuses, max sends of one token = %d, %d, %d, %d; want 2, 1, 0, 1",
			logins, refreshes, reuses, e.grant.maxSent())
	}
	if n := e.ev.count(EventRefreshOutcomeUnknown); n != 1 {
		t.Errorf("refresh_outcome_unknown events = %d, want 1", n)
	}
	if _, pending := e.store.token("k").RefreshPending(); pending {
		t.Error("the stored session after the re-login still has a pending intent")
	}
}

func TestSourceOutcomeUnknownWithoutCredentials(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.lostNext, g.noCreds = 1, true })
	_, err := expireAndGet(e)
	if !errors.Is(err, ErrReauthRequired) || !errors.Is(err, ErrRefreshOutcomeUnknown) {
		t.Fatalf("Token() = %v, want ErrReauthRequired and ErrRefreshOutcomeUnknown", err)
	}
	stored := e.store.token("k")
	if sent, pending := stored.RefreshPending(); !pending || stored.RefreshToken != first.RefreshToken || sent.IsZero() {
		t.Fatalf("stored token %v has no intent for the sent refresh token", stored)
	}
	// Neither this process nor the next one sends it again.
	for i, src := range []*Source{e.src, sameStoreSource(e, e.store)} {
		if _, err := src.Token(context.Background()); !errors.Is(err, ErrRefreshOutcomeUnknown) {
			t.Errorf("source %d: Token() = %v, want ErrRefreshOutcomeUnknown", i, err)
		}
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("refreshes = %d, want 1: a possibly spent refresh token was sent again", refreshes)
	}
}

func TestSourceReuseGraceAllowsOneResend(t *testing.T) {
	for _, tc := range []struct {
		lost                  int
		wantRefresh, wantLogs int
	}{
		{lost: 1, wantRefresh: 2, wantLogs: 1}, // the re-send inside the grace period succeeds
		{lost: 2, wantRefresh: 2, wantLogs: 2}, // lost again: log in, never a third send
	} {
		t.Run(fmt.Sprintf("lost%d", tc.lost), func(t *testing.T) {
			e := newSTEnv(t)
			stToken(t, e.src)
			e.grant.set(func(g *stGrant) { g.lostNext, g.grace = tc.lost, 30*time.Second })
			if _, err := expireAndGet(e); err != nil {
				t.Fatal(err)
			}
			logins, refreshes, reuses := e.grant.counts()
			if refreshes != tc.wantRefresh || logins != tc.wantLogs || reuses != 0 {
				t.Fatalf("refreshes, logins, reuses = %d, %d, %d; want %d, %d, 0", refreshes, logins, reuses, tc.wantRefresh, tc.wantLogs)
			}
			if got := e.grant.maxSent(); got > 2 {
				t.Fatalf("one refresh token was sent %d times, want at most 2 with a grace period", got)
			}
		})
	}
}

func TestSourceIntentFromACrashedProcess(t *testing.T) {
	for _, tc := range []struct {
		name              string
		grace, since      time.Duration
		wantRefreshes     int
		wantLogins        int
		wantOutcomeEvents int
	}{
		{"no grace: log in", 0, time.Second, 1, 2, 1},
		{"inside the grace period: re-send once", 30 * time.Second, time.Second, 2, 1, 0},
		{"grace period over: log in", 30 * time.Second, time.Minute, 1, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSTEnv(t)
			first := stToken(t, e.src)
			// The "crashed" process sent the refresh token (the server
			// rotated) and died before saving: only its intent is stored.
			if _, err := e.grant.Refresh(context.Background(), first.RefreshToken); err != nil {
				t.Fatal(err)
			}
			crashed := first.clone()
			crashed.fate = fate{sentAt: e.clock.Now()}
			crashed.Expiry = e.clock.Now() // and its access token is expired
			b, _ := EncodeToken(crashed)
			_ = e.store.Put(context.Background(), "k", b)
			e.grant.set(func(g *stGrant) { g.grace = tc.grace })
			e.clock.Advance(tc.since)

			next := sameStoreSource(e, e.store)
			if _, err := next.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			_ = next.Close(context.Background())
			logins, refreshes, reuses := e.grant.counts()
			if refreshes != tc.wantRefreshes || logins != tc.wantLogins || reuses != 0 {
				t.Fatalf("refreshes, logins, reuses = %d, %d, %d; want %d, %d, 0", refreshes, logins, reuses, tc.wantRefreshes, tc.wantLogins)
			}
			if n := e.ev.count(EventRefreshOutcomeUnknown); n != tc.wantOutcomeEvents {
				t.Errorf("refresh_outcome_unknown events = %d, want %d", n, tc.wantOutcomeEvents)
			}
		})
	}
}

func TestSourceRejectionIsRecordedForEveryone(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.live[first.RefreshToken], g.noCreds = false, true })
	if _, err := expireAndGet(e); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("Token() = %v, want ErrReauthRequired", err)
	}
	if stored := e.store.token("k"); stored == nil || !stored.RefreshRejected() || stored.RefreshUsable(e.clock.Now()) {
		t.Fatalf("stored token %v: the rejection is not recorded", stored)
	}
	next := sameStoreSource(e, e.store)
	if _, err := next.Token(context.Background()); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("next process: Token() = %v, want ErrReauthRequired", err)
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("refreshes = %d, want 1: a rejected refresh token was sent again", refreshes)
	}
	// A login replaces the record.
	e.grant.set(func(g *stGrant) { g.noCreds = false })
	if _, err := next.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if stored := e.store.token("k"); stored.RefreshRejected() {
		t.Fatal("the new session is still marked rejected")
	}
}

func TestSourceNeverSpendsWhatItCannotSave(t *testing.T) {
	e := newSTEnv(t)
	rs := &stReservingStore{stStore: e.store}
	e.src.Store = rs
	first := stToken(t, e.src)
	full := fmt.Errorf("disk: %w", storage.ErrNoSpace)
	rs.setReserveErr(full)
	_, err := expireAndGet(e)
	if !errors.Is(err, ErrStoreUnwritable) || !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("Token() on a full store = %v, want ErrStoreUnwritable wrapping storage.ErrNoSpace", err)
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 0 {
		t.Fatalf("refreshes = %d, want 0: the refresh token was spent although the answer could not be saved", refreshes)
	}
	if stored := e.store.token("k"); stored.RefreshToken != first.RefreshToken || !stored.RefreshUsable(e.clock.Now()) {
		t.Fatalf("stored token %v changed", stored)
	}
	// Space is back: the session continues without a new login.
	rs.setReserveErr(nil)
	e.clock.Advance(time.Minute) // past the back-off
	tok := stToken(t, e.src)
	logins, refreshes, reuses := e.grant.counts()
	if logins != 1 || refreshes != 1 || reuses != 0 || tok.RefreshToken == first.RefreshToken {
		t.Fatalf("logins, refreshes, reuses = %d, %d, %d; want 1, 1, 0 and a rotated token", logins, refreshes, reuses)
	}
	if got := e.store.token("k"); got.RefreshToken != tok.RefreshToken {
		t.Fatal("the rotated token was not saved")
	}
	if rs.committed != 1 {
		t.Errorf("reservations committed = %d, want 1 (the save of the answer)", rs.committed)
	}
}

func TestSourceIntentWriteFailureSendsNothing(t *testing.T) {
	e := newSTEnv(t)
	stToken(t, e.src)
	e.store.mu.Lock()
	e.store.putErr = fmt.Errorf("keyring: %w", storage.ErrReadOnly)
	e.store.mu.Unlock()
	if _, err := expireAndGet(e); !errors.Is(err, ErrStoreUnwritable) || !errors.Is(err, storage.ErrReadOnly) {
		t.Fatalf("Token() = %v, want ErrStoreUnwritable wrapping storage.ErrReadOnly", err)
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 0 {
		t.Fatalf("refreshes = %d, want 0", refreshes)
	}
	e.store.mu.Lock()
	e.store.putErr = nil
	e.store.mu.Unlock()
}

func TestSourceUnsentRefreshClearsItsIntent(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.refreshErr = errors.New("503 Service Unavailable") })
	if _, err := expireAndGet(e); err == nil {
		t.Fatal("Token() succeeded against a failing endpoint")
	}
	if _, pending := e.store.token("k").RefreshPending(); pending {
		t.Fatal("an intent stayed behind for a refresh the server did not process")
	}
	e.grant.set(func(g *stGrant) { g.refreshErr = nil })
	e.clock.Advance(time.Minute)
	tok := stToken(t, e.src)
	if logins, _, _ := e.grant.counts(); logins != 1 || tok.RefreshToken == first.RefreshToken {
		t.Fatalf("logins = %d, want 1 and a refreshed token", logins)
	}
}

func TestSourceKeepsRefreshTokenFromUnusableAnswer(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.brokenNext = 1 })
	if _, err := expireAndGet(e); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("Token() = %v, want ErrMalformedResponse", err)
	}
	stored := e.store.token("k")
	if stored == nil || stored.RefreshToken == first.RefreshToken || !stored.RefreshUsable(e.clock.Now()) {
		t.Fatalf("stored token %v: the new refresh token in the unusable answer was dropped", stored)
	}
	tok := stToken(t, e.src)
	logins, refreshes, reuses := e.grant.counts()
	if logins != 1 || refreshes != 2 || reuses != 0 || tok.AccessToken == first.AccessToken {
		t.Fatalf("logins, refreshes, reuses = %d, %d, %d; want 1, 2, 0", logins, refreshes, reuses)
	}
}

// TestSourceNonRotatingServerKeepsRefreshing: a server that answers a
// refresh without a new refresh token (no rotation, as Google does) keeps
// the old one valid; every later expiry refreshes with it again, and the
// intent of a refresh whose answer came back never lingers.
func TestSourceNonRotatingServerKeepsRefreshing(t *testing.T) {
	for name, store := range map[string]bool{"no store": false, "store": true} {
		t.Run(name, func(t *testing.T) {
			e := newSTEnv(t)
			if !store {
				e.src.Store = nil
			}
			first := stToken(t, e.src)
			e.grant.set(func(g *stGrant) { g.omitRotate, g.noCreds = true, true })
			for i := range 3 {
				tok, err := expireAndGet(e)
				if err != nil {
					t.Fatalf("expiry %d: %v", i+1, err)
				}
				if tok.RefreshToken != first.RefreshToken {
					t.Fatalf("expiry %d: refresh token changed", i+1)
				}
			}
			if logins, refreshes, _ := e.grant.counts(); logins != 1 || refreshes != 3 {
				t.Fatalf("logins, refreshes = %d, %d; want 1, 3", logins, refreshes)
			}
			if n := e.ev.count(EventRefreshOutcomeUnknown); n != 0 {
				t.Fatalf("refresh_outcome_unknown events = %d, want 0", n)
			}
			if store {
				if _, pending := e.store.token("k").RefreshPending(); pending {
					t.Fatal("an intent stayed in the store after the answer was saved")
				}
			}
		})
	}
}
