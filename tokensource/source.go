package tokensource

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
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
// A Grant's Login runs inside that shared refresh: it must not wait for a
// human (a terminal prompt, a browser). A program that asks its user for a
// password does so in its own flow when the Source returns
// [ErrReauthRequired], then calls [Source.Login].
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
	// Now returns the current time. Nil means time.Now. The built-in
	// grants read their own Now field when they turn expires_in into an
	// Expiry: a test that fakes the clock sets both.
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
	// InFlightWait applies to a Store shared by a fleet (one that
	// implements [storage.Versioned], whose lock can lapse under a paused
	// holder or an engine restart): a refresh that finds another process's
	// refresh of the same refresh token in flight waits up to this long,
	// counted from when that refresh was sent, for its answer to be saved
	// and adopts it, instead of logging in at once. Zero means 10 seconds;
	// a negative value does not wait. Keep it shorter than the server's
	// reuse grace period, if it has one.
	InFlightWait time.Duration

	// st is the session's current state, read without a lock on the hot
	// path. It is never modified: every transition stores a new one,
	// under mu.
	st atomic.Pointer[state]

	// mu orders every transition of st and guards the fields below.
	mu      sync.Mutex
	flight  *flight
	saveErr error // why the published token is not in Store (st.dirty)
	// gate admits one store write at a time. A flight's write and
	// Logout's cut-off take it, so no write of a session lands after
	// Logout ended it.
	gate chan struct{}

	// accepted is the token a server last accepted (see Accepted).
	accepted atomic.Pointer[Token]
	// probe runs the next probe of a failing token endpoint; probeBase
	// is its first delay (zero: one second; tests shorten it).
	probe     *time.Timer
	probeBase time.Duration

	// known is what this process learned about the refresh token it last
	// used (the Store's record says the same when there is one). Only
	// the running flight reads or writes it.
	known known
}

// state is a snapshot of the session; see the package documentation for
// the states and their transitions.
type state struct {
	tok       *Token    // the published token; nil: none yet, or logged out
	refreshAt time.Time // when tok is due for a background refresh; zero: never by the clock
	rejected  bool      // a server refused tok: it is not handed out again
	dirty     bool      // tok is not yet in Store
	loggedOut bool      // Logout ended the session; Login starts a new one
	// notBefore holds off background work: while a flight runs, and for
	// a pause after one failed.
	notBefore time.Time
	// epoch counts the Logouts: a flight that started in an older epoch
	// publishes and saves nothing.
	epoch uint64

	// renewed: tok came from a renewal (a refresh for a 401). futile
	// counts renewals in a row whose token no server accepted; until
	// renewHold, a renewed token that no server accepted is not renewed
	// again when it is rejected (the API refuses us whatever the token).
	renewed   bool
	futile    int
	renewHold time.Time
	// outage is set while the token endpoint is known to fail and no
	// token serves: callers get its error at once until the next probe.
	outage *outage
}

// outage is a token endpoint known to be failing.
type outage struct {
	err     error
	trigger Trigger
	since   time.Time
	next    time.Time // when the next probe is due
	attempt int       // probes so far
}

// purpose is what a flight is for. The refresh purposes are the public
// triggers; the others never appear in an Event.
type purpose uint8

const (
	forRefresh purpose = iota // adopt, refresh or log in, as needed (trigger says why)
	forLogin                  // Source.Login: log in whatever the state
	forSave                   // retry saving the published token
)

// flight is one run of the refresh procedure; done is closed when tok and
// err are set.
type flight struct {
	purpose purpose
	trigger Trigger // for forRefresh
	epoch   uint64
	done    chan struct{}
	tok     *Token
	err     error

	// orphan is a token the flight obtained after Logout ended its
	// session: neither saved nor published, only revoked by Logout.
	orphan *Token
	// sending is set once the flight may have sent a refresh token or
	// received an answer that must be saved; until then abandoning it
	// (Close with an ended context) costs nothing.
	sending atomic.Bool
	cancel  context.CancelFunc
	// res is the save reserved before a refresh token was sent.
	res storage.Reservation
	// gen is the generation of the stored record the flight read last
	// (versioned is set once it has read one) when Store implements
	// storage.Versioned: every write of the flight is a compare-and-set
	// on it.
	gen       int64
	versioned bool
	// storeFault is set when the pass failed because the Store did not
	// answer (lock, read, or the write before a refresh token is sent):
	// nothing was sent, so a fleet store's flight may try again.
	storeFault bool
}

// ErrLoggedOut is returned by [Source.Token] and [Source.Renew] after
// [Source.Logout], until [Source.Login] starts a new session. It satisfies
// errors.Is(err, ErrReauthRequired).
var ErrLoggedOut = errorf("%w: logged out", ErrReauthRequired)

// Token returns a valid token, from memory when it can. A token inside its
// early-refresh margin is returned at once while one background refresh
// replaces it; an expired, rejected or missing token makes the caller wait
// for the shared refresh or until ctx is done.
func (s *Source) Token(ctx context.Context) (*Token, error) {
	st := s.st.Load()
	switch {
	case st == nil || st.tok == nil:
		return s.await(ctx, TriggerStartup)
	case st.rejected:
		return s.await(ctx, TriggerRenew)
	case st.refreshAt.IsZero() && !st.dirty:
		return st.tok, nil
	}
	now := s.now()
	switch {
	case st.tok.ExpiredAt(now):
		return s.await(ctx, TriggerExpired)
	case now.Before(st.notBefore):
	case !st.refreshAt.IsZero() && !now.Before(st.refreshAt):
		s.background(now, forRefresh)
	case st.dirty:
		s.background(now, forSave)
	}
	return st.tok, nil
}

// Settled is Token for a request that cannot be sent twice (its body cannot
// be replayed): when a refresh is running, or due because the token is
// inside its early-refresh margin, it waits for that refresh (or until ctx
// is done) instead of returning a token the refresh is about to replace. A
// server that kills the old access token on refresh would otherwise answer
// such a request 401, and it could not be retried. When the refresh fails
// and the current token still serves, that token is returned.
func (s *Source) Settled(ctx context.Context) (*Token, error) {
	st := s.st.Load()
	if st != nil && st.tok != nil && !st.rejected && !st.dirty && st.refreshAt.IsZero() {
		return st.tok, nil // the clock never refreshes this one
	}
	s.mu.Lock()
	f := s.flight
	s.mu.Unlock()
	if f != nil {
		if _, err := s.waitOne(ctx, f); err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
	if st = s.st.Load(); st != nil && st.tok != nil && !st.rejected && !st.refreshAt.IsZero() {
		now := s.now()
		if !now.Before(st.refreshAt) && !now.Before(st.notBefore) && !st.tok.ExpiredAt(now) {
			if tok, err := s.await(ctx, TriggerEarly); err == nil || ctx.Err() != nil {
				return tok, err
			}
		}
	}
	return s.Token(ctx)
}

// Accepted records that a server accepted tok: it answered a request made
// with it with something other than 401.
// [github.com/tokenrefresh/tokenrefresh/transport.Transport] reports
// every such answer; see Renew.
func (s *Source) Accepted(tok *Token) {
	if s.accepted.Load() != tok {
		s.accepted.Store(tok)
	}
}

// Renew returns a token to use instead of rejected, which a server has just
// refused (HTTP 401). If a newer token than rejected is already published,
// it is returned without any network call; otherwise rejected is marked
// unusable and the caller waits for the shared refresh.
//
// Renewals are rate-limited: when rejected itself came from a renewal and
// no server has accepted it yet (see [Source.Accepted]), the API refuses
// us whatever the token (a wrong audience, a misconfigured API), so Renew
// returns rejected itself, at once, with an [EventRequestRejectedAgain]
// event; such a token is renewed again only after a hold of a minute,
// doubling while renewals keep failing this way, at most 30 minutes. A
// token that a server accepted before is renewed at once (a revocation).
func (s *Source) Renew(ctx context.Context, rejected *Token) (*Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, errorf("renew: %w", err)
	}
	s.mu.Lock()
	st := s.state()
	if st.tok != nil && rejected != nil && st.tok != rejected {
		s.mu.Unlock()
		if st.rejected || st.tok.ExpiredAt(s.now()) {
			return s.await(ctx, TriggerRenew)
		}
		return st.tok, nil
	}
	if st.tok != nil && st.tok == rejected && st.renewed && s.accepted.Load() != rejected && s.now().Before(st.renewHold) {
		// A renewal's token, rejected before any server accepted it:
		// another renewal would not help. The caller keeps its 401.
		s.mu.Unlock()
		s.emit(Event{Kind: EventRequestRejectedAgain, Trigger: TriggerRenew})
		return rejected, nil
	}
	if st.tok != nil && !st.rejected {
		next := *st
		next.rejected = true
		s.st.Store(&next)
	}
	f, own, err := s.joinLocked(ctx, forRefresh, TriggerRenew)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.wait(ctx, f, own, TriggerRenew)
}

// Login logs in with the Grant's credentials whatever the current state,
// saves the new token and publishes it. It shares the single-flight
// machinery: it waits for a refresh in flight, then runs its own. After
// [Source.Logout], only Login starts a new session. It is the only way an
// [Interactive] grant's login runs, bounded by ctx alone (not by
// RefreshTimeout).
func (s *Source) Login(ctx context.Context) (*Token, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, errorf("login: %w", err)
		}
		s.mu.Lock()
		f := s.flight
		if f == nil {
			if err := s.checkConfig(); err != nil {
				s.mu.Unlock()
				return nil, err
			}
			if st := s.state(); st.loggedOut {
				// A new session: a Logout still finishing leaves it alone.
				next := *st
				next.loggedOut = false
				next.epoch++
				s.st.Store(&next)
			}
			f = s.startLocked(ctx, forLogin, "")
			s.mu.Unlock()
			return s.waitOne(ctx, f)
		}
		s.mu.Unlock()
		if _, err := s.waitOne(ctx, f); err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
}

// Stored returns the current token without contacting any server: the one
// in memory, else the one in Store. With none it returns an error wrapping
// [storage.ErrNotFound]. The token may be expired.
func (s *Source) Stored(ctx context.Context) (*Token, error) {
	if st := s.st.Load(); st != nil && st.tok != nil {
		return st.tok, nil
	}
	if err := s.checkConfig(); err != nil {
		return nil, err
	}
	if s.Store == nil {
		return nil, errorf("no token: %w", storage.ErrNotFound)
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
	return nil, errorf("load: %w", err)
}

// Close waits until no refresh is in flight and, if the current token could
// not be saved earlier, tries once more to save it. If ctx ends first, a
// refresh that has sent nothing yet (one waiting for the token endpoint's
// connection or for credentials) is abandoned, which costs nothing, and
// ctx's error is returned; a refresh whose answer must still be saved runs
// on. It returns the save error if the token is still not saved. The
// Source remains usable after Close.
func (s *Source) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.probe != nil {
		// Callers still probe, once the next probe is due.
		s.probe.Stop()
		s.probe = nil
	}
	s.mu.Unlock()
	if err := s.drain(ctx); err != nil {
		s.mu.Lock()
		if f := s.flight; f != nil && !f.sending.Load() {
			f.cancel()
		}
		s.mu.Unlock()
		return errorf("close: %w", err)
	}
	if st := s.st.Load(); st == nil || !st.dirty {
		return nil
	}
	s.mu.Lock()
	f, _, err := s.joinLocked(ctx, forSave, "")
	s.mu.Unlock()
	if err == nil {
		_, err = s.waitOne(ctx, f)
	}
	if err != nil {
		return errorf("close: %w", err)
	}
	if st := s.st.Load(); st != nil && st.dirty {
		s.mu.Lock()
		err := s.saveErr
		s.mu.Unlock()
		return errorf("close: token not saved: %w", err)
	}
	return nil
}

// Logout ends the session. First, under the same lock as every store
// write, it forgets the token in memory and cuts off any flight in
// progress: from then on nothing of this session is published or saved by
// this Source, whatever was in flight, and Token returns [ErrLoggedOut]
// until [Source.Login]. Then it deletes the stored token and, when the
// Grant is a [Revoker], revokes the refresh token on the server (best
// effort, bounded by ctx), including one a cut-off refresh received. Local
// state is cleared even when revocation fails; the revocation error is
// returned.
func (s *Source) Logout(ctx context.Context) error {
	if err := s.checkConfig(); err != nil {
		return err
	}
	if err := s.enter(ctx); err != nil {
		return errorf("logout: %w", err)
	}
	s.mu.Lock()
	old := s.state()
	epoch := old.epoch + 1
	s.st.Store(&state{loggedOut: true, epoch: epoch})
	s.saveErr = nil
	if s.probe != nil {
		s.probe.Stop()
		s.probe = nil
	}
	f := s.flight
	s.mu.Unlock()
	s.leave()

	var revoke []*Token
	if old.tok != nil {
		revoke = append(revoke, old.tok)
	}
	var errs []error
	if s.Store != nil {
		// Local first: the stored session goes before anything waits
		// on the network.
		stored, err := s.deleteStored(ctx, epoch)
		if err != nil {
			errs = append(errs, errorf("logout: %w", err))
		}
		if stored != nil && (old.tok == nil || stored.RefreshToken != old.tok.RefreshToken) {
			revoke = append(revoke, stored)
		}
	}
	if f != nil {
		// A cut-off flight may hold a refresh token the server just
		// issued: wait for it, so that one is revoked too.
		if _, err := s.waitOne(ctx, f); err != nil && ctx.Err() != nil {
			errs = append(errs, errorf("logout: %w", err))
		}
		if f.orphan != nil {
			revoke = append(revoke, f.orphan)
		}
	}
	if r, ok := s.Grant.(Revoker); ok {
		for _, tok := range revoke {
			if err := r.Revoke(ctx, tok); err != nil {
				errs = append(errs, withOp("logout: revoke", err))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteStored deletes the stored session of epoch under the store's lock
// and returns the token it held, if it could be read. When a Login began a
// new session meanwhile (a newer epoch), the store is left to it. Like a
// flight, it takes the store's lock before the write gate.
func (s *Source) deleteStored(ctx context.Context, epoch uint64) (*Token, error) {
	unlock, err := s.lockStore(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var stored *Token
	if b, err := s.Store.Get(ctx, s.key()); err == nil {
		if tok, err := DecodeToken(b); err == nil && s.checkOwner(tok) == nil {
			stored = tok
		}
	}
	if err := s.enter(ctx); err != nil {
		return stored, err
	}
	defer s.leave()
	if s.state().epoch != epoch {
		return stored, nil
	}
	if err := s.Store.Delete(ctx, s.key()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return stored, err
	}
	return stored, nil
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
func (s *Source) background(now time.Time, p purpose) {
	s.mu.Lock()
	if st := s.state(); s.flight == nil && !now.Before(st.notBefore) && !st.loggedOut {
		trigger := TriggerEarly
		if p != forRefresh {
			trigger = ""
		}
		s.startLocked(context.Background(), p, trigger)
	}
	s.mu.Unlock()
}

// await joins the running flight or starts one, and waits for a token that
// suits trigger.
func (s *Source) await(ctx context.Context, trigger Trigger) (*Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, errorf("%w", err)
	}
	s.mu.Lock()
	f, own, err := s.joinLocked(ctx, forRefresh, trigger)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.wait(ctx, f, own, trigger)
}

// wait waits for flight f. A flight this caller started answers it,
// whatever its outcome. A flight it joined answers it when its token suits
// trigger or when it was a refresh that failed; otherwise (it ran for
// another purpose, or its token no longer suits) the caller runs a flight
// of its own, so at most two flights are waited for.
func (s *Source) wait(ctx context.Context, f *flight, own bool, trigger Trigger) (*Token, error) {
	tok, err := s.waitOne(ctx, f)
	if own || ctx.Err() != nil {
		return tok, err
	}
	if err != nil && f.purpose == forRefresh {
		return tok, err
	}
	if err == nil && s.suits(tok, trigger) {
		return tok, nil
	}
	for {
		s.mu.Lock()
		f, own, err = s.joinLocked(ctx, forRefresh, trigger)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if own {
			return s.waitOne(ctx, f)
		}
		// Another flight started first: let it finish, then start ours.
		if _, err := s.waitOne(ctx, f); err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
}

func (s *Source) waitOne(ctx context.Context, f *flight) (*Token, error) {
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, errorf("waiting for token: %w", ctx.Err())
	}
}

// suits reports whether tok, the result of a flight, answers a waiter that
// came for trigger: it is published, not rejected and not expired.
func (s *Source) suits(tok *Token, trigger Trigger) bool {
	st := s.st.Load()
	if tok == nil || st == nil || st.tok != tok || st.rejected {
		return false
	}
	return trigger == TriggerEarly || !tok.ExpiredAt(s.now())
}

// joinLocked returns the running flight, or starts one for p and reports
// own. After Logout it refuses with ErrLoggedOut. s.mu must be held.
func (s *Source) joinLocked(ctx context.Context, p purpose, trigger Trigger) (f *flight, own bool, err error) {
	st := s.state()
	if st.loggedOut {
		return nil, false, ErrLoggedOut
	}
	if s.flight != nil {
		return s.flight, false, nil
	}
	if o := st.outage; o != nil && p == forRefresh && s.now().Before(o.next) {
		return nil, false, &OutageError{Err: o.err, Since: o.since, Next: o.next}
	}
	return s.startLocked(ctx, p, trigger), true, nil
}

// startLocked starts a flight detached from ctx's cancellation, and holds
// off background work while it runs. s.mu must be held and no flight
// running.
func (s *Source) startLocked(ctx context.Context, p purpose, trigger Trigger) *flight {
	st := s.state()
	var fctx context.Context
	var cancel context.CancelFunc
	if p == forLogin && interactive(s.Grant) {
		// A login that needs a human is the caller's own flow: it ends
		// with the caller's context, and takes as long as the human does.
		fctx, cancel = context.WithCancel(ctx)
	} else {
		fctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.refreshTimeout())
	}
	if st.outage != nil && p == forRefresh {
		// A probe of a failing endpoint: one request, no retries.
		fctx = tokenendpoint.SingleAttempt(fctx)
	}
	f := &flight{purpose: p, trigger: trigger, epoch: st.epoch, done: make(chan struct{}), cancel: cancel}
	s.flight = f
	next := *st
	next.notBefore = s.now().Add(s.refreshTimeout())
	s.st.Store(&next)
	go s.run(fctx, f)
	return f
}

// state returns the current state; never nil.
func (s *Source) state() *state {
	if st := s.st.Load(); st != nil {
		return st
	}
	return &state{}
}

// enter takes the store-write gate, or gives up when ctx ends.
func (s *Source) enter(ctx context.Context) error {
	s.mu.Lock()
	if s.gate == nil {
		s.gate = make(chan struct{}, 1)
	}
	g := s.gate
	s.mu.Unlock()
	select {
	case g <- struct{}{}:
		return nil
	default:
	}
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Source) leave() { <-s.gate }

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
