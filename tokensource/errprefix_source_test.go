package tokensource

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// onePrefix fails unless every line of err's message (errors.Join puts one
// error per line) starts with "tokensource: " and has it once.
func onePrefix(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "tokensource: ") || strings.Count(line, "tokensource: ") != 1 {
			t.Errorf("%s: message %q does not carry the package prefix exactly once, at its start", what, line)
		}
	}
}

type stFailingLock struct{ *stStore }

func (l stFailingLock) Lock(ctx context.Context, key string) (func() error, error) {
	return nil, errors.New("lock file busy")
}

type stFailingRevoker struct{ *stGrant }

func (r stFailingRevoker) Revoke(ctx context.Context, tok *Token) error {
	return &TokenError{Op: "revoke", StatusCode: 503}
}

// TestSourceErrorPathsCarryThePrefixOnce walks the Source's error paths.
func TestSourceErrorPathsCarryThePrefixOnce(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	_, err := (&Source{}).Token(ctx)
	onePrefix(t, "no grant", err)
	_, err = (&Source{Grant: newSTGrant(time.Now), Store: (*stStore)(nil)}).Token(ctx)
	onePrefix(t, "typed nil store", err)
	_, err = (&Source{Grant: newSTGrant(time.Now)}).Stored(ctx)
	onePrefix(t, "nothing stored, no store", err)

	e := newSTEnv(t)
	_, err = e.src.Token(cancelled)
	onePrefix(t, "Token with an ended context", err)
	_, err = e.src.Renew(cancelled, nil)
	onePrefix(t, "Renew with an ended context", err)
	_, err = e.src.Login(cancelled)
	onePrefix(t, "Login with an ended context", err)

	// A waiter that gives up on a stuck refresh.
	stToken(t, e.src)
	gate, started := e.grant.block()
	e.clock.Advance(time.Hour)
	short, cancelShort := context.WithTimeout(ctx, 10*time.Millisecond)
	_, err = e.src.Token(short)
	cancelShort()
	onePrefix(t, "waiter giving up", err)
	<-started
	close(gate)
	e.grant.set(func(g *stGrant) { g.gate, g.started = nil, nil })

	// A plain error from a Grant gets the prefix and the operation.
	e.grant.set(func(g *stGrant) { g.refreshErr = errors.New("connection reset") })
	e.clock.Advance(time.Hour)
	_, err = e.src.Token(ctx)
	onePrefix(t, "refresh failure", err)
	if err == nil || err.Error() != "tokensource: refresh: connection reset" {
		t.Errorf("refresh failure = %q, want the grant's error with one prefix and its op", err)
	}
	e.grant.set(func(g *stGrant) { g.refreshErr = nil })

	// Outcome unknown, and no credentials to log in with.
	e2 := newSTEnv(t)
	stToken(t, e2.src)
	e2.grant.set(func(g *stGrant) { g.lostNext, g.noCreds = 1, true })
	e2.clock.Advance(time.Hour)
	_, err = e2.src.Token(ctx)
	onePrefix(t, "outcome unknown then no credentials", err)
	if !errors.Is(err, ErrRefreshOutcomeUnknown) {
		t.Errorf("outcome unknown: %v does not match ErrRefreshOutcomeUnknown", err)
	}
	onePrefix(t, "ErrRefreshOutcomeUnknown", ErrRefreshOutcomeUnknown)
	onePrefix(t, "ErrNoRefreshToken", ErrNoRefreshToken)
	onePrefix(t, "ErrLoggedOut", ErrLoggedOut)

	// A store that cannot take the answer.
	e3 := newSTEnv(t)
	rs := &stReservingStore{stStore: e3.store}
	e3.src.Store = rs
	stToken(t, e3.src)
	rs.mu.Lock()
	rs.reserveErr = errors.New("no space left on device")
	rs.mu.Unlock()
	e3.clock.Advance(time.Hour)
	_, err = e3.src.Token(ctx)
	onePrefix(t, "store unwritable", err)
	if !errors.Is(err, ErrStoreUnwritable) {
		t.Errorf("store unwritable: %v does not match ErrStoreUnwritable", err)
	}
	rs.mu.Lock()
	rs.reserveErr = nil
	rs.mu.Unlock()

	// A save that keeps failing, reported by Close.
	e4 := newSTEnv(t)
	stToken(t, e4.src)
	e4.store.mu.Lock()
	e4.store.onPut = func([]byte) {
		e4.store.mu.Lock()
		e4.store.putErr = errors.New("disk full")
		e4.store.onPut = nil
		e4.store.mu.Unlock()
	}
	e4.store.mu.Unlock()
	e4.clock.Advance(time.Hour)
	stToken(t, e4.src)
	closeCtx, cancelClose := context.WithTimeout(ctx, 5*time.Second)
	err = e4.src.Close(closeCtx)
	cancelClose()
	onePrefix(t, "Close with an unsaved token", err)
	e4.store.mu.Lock()
	e4.store.putErr = nil
	e4.store.mu.Unlock()

	// A store lock that fails; a revocation that fails.
	e5 := newSTEnv(t)
	e5.src.Store = stFailingLock{e5.store}
	_, err = e5.src.Token(ctx)
	onePrefix(t, "store lock failure", err)
	e5.src.Store = e5.store
	e5.src.Grant = stFailingRevoker{e5.grant}
	stToken(t, e5.src)
	onePrefix(t, "Logout with a failing revocation", e5.src.Logout(ctx))
	_, err = e5.src.Token(ctx)
	onePrefix(t, "Token after Logout", err)

	// Another identity's session.
	e6 := newSTEnv(t)
	id := &stIdentified{stGrant: e6.grant, id: "bob@auth.example.com"}
	e6.src.Grant = id
	stToken(t, e6.src)
	other := &Source{Grant: &stIdentified{stGrant: e6.grant, id: "alice@auth.example.com"}, Store: e6.store, Key: "k", Now: e6.clock.Now}
	_, err = other.Token(ctx)
	onePrefix(t, "another identity's session", err)
	var ie *IdentityError
	if !errors.As(err, &ie) {
		t.Errorf("another identity: %v is not an *IdentityError", err)
	}
}

type stIdentified struct {
	*stGrant
	id string
}

func (g *stIdentified) Identity() string { return g.id }
