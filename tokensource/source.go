package tokensource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// Source hands out access tokens, refreshing them ahead of expiry, renewing
// them when a server rejects one, and logging in again when the refresh
// token is dead. It persists every new token to Store before any caller sees
// it, so a rotated refresh token is never lost.
//
// A Source is safe for concurrent use by multiple goroutines. Its zero value
// is not usable: Grant is required. The configuration fields must not be
// changed after the first call.
//
// At most one refresh runs at a time per Source. It runs on a context
// detached from the caller that started it (bounded by RefreshTimeout), so a
// caller that gives up does not fail the others; every waiter can give up on
// its own context. When Store implements [storage.Locker], the refresh holds
// the store's lock and first re-reads the store, adopting a token another
// process already rotated instead of refreshing again.
//
// Call Close before the program exits so that a refresh in flight is saved.
type Source struct {
	// Grant obtains tokens. Required.
	Grant Grant
	// Store persists the session. Nil keeps it in memory only.
	Store storage.Store
	// Key names the session in Store. Empty means "default" joined with
	// the Grant's identity (see [Identifier]), so that two users sharing a
	// Store never share a session. A stored session of another identity is
	// refused with an [*IdentityError] whatever the Key.
	Key string
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger receives debug, info and warning records. Nil means silent.
	// No record ever contains a token.
	Logger *slog.Logger
	// OnEvent, if set, is called synchronously for every [Event]. It must
	// be fast and must not call back into the Source.
	OnEvent func(Event)
	// RefreshTimeout bounds one refresh, including the wait for the store
	// lock and the token endpoint's retries. Zero means one minute.
	RefreshTimeout time.Duration
	// EarlyRefresh is how long before expiry a token is refreshed in the
	// background. Zero means a fifth of the token's lifetime, at most one
	// minute, so a 15-minute token refreshes a minute early and a
	// 10-second token two seconds early. A configured margin is capped at
	// half the token's lifetime.
	EarlyRefresh time.Duration

	// cur is the published token, read without a lock on the hot path.
	cur atomic.Pointer[held]
	// rejected is the token a server last refused; it is not handed out
	// again.
	rejected atomic.Pointer[Token]
	// notBefore (Unix nanoseconds) holds off background work while one
	// runs and for a while after one failed.
	notBefore atomic.Int64
	// dirty reports that the published token is not yet in Store.
	dirty atomic.Bool

	// mu guards flight and saveErr, and orders publishing against Renew.
	mu      sync.Mutex
	flight  *flight
	saveErr error

	// known and res belong to the running flight: only it reads or
	// writes them. known is what this process learned about the refresh
	// token it last used (the Store's record says the same when there is
	// one); res is the save reserved before a refresh token was sent.
	known known
	res   storage.Reservation
}

// held is a published token with its precomputed refresh time.
type held struct {
	tok       *Token
	refreshAt time.Time // zero: never refreshed by the clock
}

// flight is one run of the refresh procedure; done is closed when tok and
// err are set.
type flight struct {
	trigger Trigger
	done    chan struct{}
	tok     *Token
	err     error
}

// triggerSave and triggerLogin are internal flight purposes: retry a failed
// save, and log in unconditionally.
const (
	triggerSave  Trigger = "save"
	triggerLogin Trigger = "login"
)

// Token returns a valid token, from memory when it can. A token inside its
// early-refresh margin is returned at once while one background refresh
// replaces it; an expired, rejected or missing token makes the caller wait
// for the shared refresh or until ctx is done.
func (s *Source) Token(ctx context.Context) (*Token, error) {
	h := s.cur.Load()
	switch {
	case h == nil:
		return s.await(ctx, TriggerStartup)
	case h.tok == s.rejected.Load():
		return s.await(ctx, TriggerRenew)
	case h.refreshAt.IsZero() && !s.dirty.Load():
		return h.tok, nil
	}
	now := s.now()
	switch {
	case h.tok.ExpiredAt(now):
		return s.await(ctx, TriggerExpired)
	case !h.refreshAt.IsZero() && !now.Before(h.refreshAt):
		s.background(now, TriggerEarly)
	case s.dirty.Load():
		s.background(now, triggerSave)
	}
	return h.tok, nil
}

// Renew returns a token to use instead of rejected, which a server has just
// refused (HTTP 401). If a newer token than rejected is already published,
// it is returned without any network call; otherwise rejected is marked
// unusable and the caller waits for the shared refresh.
func (s *Source) Renew(ctx context.Context, rejected *Token) (*Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tokensource: renew: %w", err)
	}
	s.mu.Lock()
	if h := s.cur.Load(); h != nil && rejected != nil && h.tok != rejected {
		s.mu.Unlock()
		if h.tok == s.rejected.Load() || h.tok.ExpiredAt(s.now()) {
			return s.await(ctx, TriggerRenew)
		}
		return h.tok, nil
	}
	if h := s.cur.Load(); h != nil {
		s.rejected.Store(h.tok)
	}
	f := s.joinLocked(ctx, TriggerRenew)
	s.mu.Unlock()
	return s.wait(ctx, f, TriggerRenew)
}

// Login logs in with the Grant's credentials whatever the current state,
// saves the new token and publishes it. It shares the single-flight
// machinery, so it never runs beside a refresh.
func (s *Source) Login(ctx context.Context) (*Token, error) {
	for range 3 {
		s.mu.Lock()
		f := s.flight
		if f == nil {
			f = s.startLocked(ctx, triggerLogin)
		}
		s.mu.Unlock()
		tok, err := s.waitOne(ctx, f)
		if f.trigger == triggerLogin || ctx.Err() != nil {
			return tok, err
		}
	}
	return nil, errors.New("tokensource: login: the source stayed busy")
}

// Stored returns the current token without contacting any server: the one
// in memory, else the one in Store. With none it returns an error wrapping
// [storage.ErrNotFound]. The token may be expired.
func (s *Source) Stored(ctx context.Context) (*Token, error) {
	if h := s.cur.Load(); h != nil {
		return h.tok, nil
	}
	if err := s.checkConfig(); err != nil {
		return nil, err
	}
	if s.Store == nil {
		return nil, fmt.Errorf("tokensource: no token: %w", storage.ErrNotFound)
	}
	b, err := s.Store.Get(ctx, s.key())
	if err == nil {
		var tok *Token
		if tok, err = DecodeToken(b); err == nil {
			if err := s.checkOwner(tok); err != nil {
				return nil, err
			}
			return tok, nil
		}
	}
	if errors.Is(err, storage.ErrNewerFormat) {
		return nil, &NewerSessionError{Key: s.key(), Err: err}
	}
	return nil, fmt.Errorf("tokensource: load: %w", err)
}

// Close waits until no refresh is in flight and, if the current token could
// not be saved earlier, tries once more to save it. It returns ctx's error
// if ctx ends first, and the save error if the token is still not saved.
// The Source remains usable after Close.
func (s *Source) Close(ctx context.Context) error {
	if err := s.drain(ctx); err != nil {
		return fmt.Errorf("tokensource: close: %w", err)
	}
	if !s.dirty.Load() {
		return nil
	}
	if _, err := s.await(ctx, triggerSave); err != nil {
		return fmt.Errorf("tokensource: close: %w", err)
	}
	if s.dirty.Load() {
		s.mu.Lock()
		err := s.saveErr
		s.mu.Unlock()
		return fmt.Errorf("tokensource: close: token not saved: %w", err)
	}
	return nil
}

// Logout ends the session: it waits for any refresh in flight, revokes the
// refresh token on the server when the Grant is a [Revoker] (best effort),
// deletes the stored token and forgets the one in memory. Local state is
// cleared even when revocation fails; the revocation error is returned.
func (s *Source) Logout(ctx context.Context) error {
	if err := s.checkConfig(); err != nil {
		return err
	}
	if err := s.drain(ctx); err != nil {
		return fmt.Errorf("tokensource: logout: %w", err)
	}
	var errs []error
	tok, err := s.Stored(ctx)
	if r, ok := s.Grant.(Revoker); ok && err == nil {
		if err := r.Revoke(ctx, tok); err != nil {
			errs = append(errs, fmt.Errorf("tokensource: logout: revoke: %w", err))
		}
	}
	if s.Store != nil {
		if err := s.deleteStored(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tokensource: logout: %w", err))
		}
	}
	s.mu.Lock()
	s.cur.Store(nil)
	s.rejected.Store(nil)
	s.dirty.Store(false)
	s.saveErr = nil
	s.mu.Unlock()
	return errors.Join(errs...)
}

func (s *Source) deleteStored(ctx context.Context) error {
	if l, ok := s.Store.(storage.Locker); ok {
		unlock, err := l.Lock(ctx, s.key())
		if err != nil {
			return fmt.Errorf("lock store: %w", err)
		}
		defer s.unlock(unlock)
	}
	return s.Store.Delete(ctx, s.key())
}

// drain waits until no flight is running.
func (s *Source) drain(ctx context.Context) error {
	for {
		s.mu.Lock()
		f := s.flight
		s.mu.Unlock()
		if f == nil {
			return nil
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// background starts a flight nobody waits for, unless one runs or a failed
// one asked for a pause.
func (s *Source) background(now time.Time, trigger Trigger) {
	nb := s.notBefore.Load()
	if now.UnixNano() < nb {
		return
	}
	// Claim the slot so concurrent callers do not all take the mutex.
	if !s.notBefore.CompareAndSwap(nb, now.Add(s.refreshTimeout()).UnixNano()) {
		return
	}
	s.mu.Lock()
	if s.flight == nil {
		s.startLocked(context.Background(), trigger)
	}
	s.mu.Unlock()
}

// await joins the running flight or starts one, and waits for a token that
// suits trigger. A finished flight whose token does not suit (it ran for
// another purpose) is followed by one more.
func (s *Source) await(ctx context.Context, trigger Trigger) (*Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tokensource: %w", err)
	}
	s.mu.Lock()
	f := s.joinLocked(ctx, trigger)
	s.mu.Unlock()
	return s.wait(ctx, f, trigger)
}

func (s *Source) wait(ctx context.Context, f *flight, trigger Trigger) (*Token, error) {
	for attempt := 0; ; attempt++ {
		tok, err := s.waitOne(ctx, f)
		if err != nil || attempt == 2 || s.suits(tok, trigger) {
			return tok, err
		}
		s.mu.Lock()
		f = s.joinLocked(ctx, trigger)
		s.mu.Unlock()
	}
}

func (s *Source) waitOne(ctx context.Context, f *flight) (*Token, error) {
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("tokensource: waiting for token: %w", ctx.Err())
	}
}

// suits reports whether tok, the result of a flight, answers a waiter that
// came for trigger.
func (s *Source) suits(tok *Token, trigger Trigger) bool {
	if tok == nil || trigger == triggerSave {
		return true
	}
	return tok != s.rejected.Load() && !tok.ExpiredAt(s.now())
}

// joinLocked returns the running flight or starts one. s.mu must be held.
func (s *Source) joinLocked(ctx context.Context, trigger Trigger) *flight {
	if s.flight != nil {
		return s.flight
	}
	return s.startLocked(ctx, trigger)
}

// startLocked starts a flight detached from ctx's cancellation. s.mu must
// be held and no flight running.
func (s *Source) startLocked(ctx context.Context, trigger Trigger) *flight {
	f := &flight{trigger: trigger, done: make(chan struct{})}
	s.flight = f
	go s.run(context.WithoutCancel(ctx), f)
	return f
}

func (s *Source) key() string {
	if s.Key != "" {
		return s.Key
	}
	if id := s.identity(); id != "" {
		return "default " + id
	}
	return "default"
}

func (s *Source) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Source) refreshTimeout() time.Duration {
	if s.RefreshTimeout > 0 {
		return s.RefreshTimeout
	}
	return time.Minute
}
