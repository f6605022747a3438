package tokensource

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// maxMargin caps the early-refresh margins.
const maxMargin = time.Minute

// outcome is what a flight hands to finish.
type outcome struct {
	tok *Token // for the waiters
	err error
	// publish, when set, becomes the published token (it may be the one
	// already published); dirty reports that it is not in Store, and
	// saveErr why.
	publish *Token
	dirty   bool
	saveErr error
	// degraded: getting a new token failed but the published one still
	// serves; background work pauses.
	degraded bool
}

// run executes flight f and hands its result to every waiter.
func (s *Source) run(ctx context.Context, f *flight) {
	defer f.cancel()
	var o outcome
	if f.purpose == forSave {
		o = s.retrySave(ctx, f)
	} else {
		o = s.refresh(ctx, f)
	}
	s.finish(f, o)
}

// finish is the one transition that ends a flight: publish its token, set
// the background pause, wake the waiters. A flight that Logout cut off
// publishes nothing; a token it obtained is left for Logout to revoke.
func (s *Source) finish(f *flight, o outcome) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if f.epoch != st.epoch {
		if o.publish != nil && o.publish != st.tok {
			f.orphan = o.publish
		}
		f.tok, f.err = nil, ErrLoggedOut
		s.flight = nil
		close(f.done)
		return
	}
	next := *st
	if o.publish != nil {
		if o.publish != st.tok {
			o.publish.prepare()
			next.tok, next.rejected = o.publish, false
			next.refreshAt = s.refreshAt(o.publish, now)
			s.noteRenewal(&next, st, f, now)
		}
		next.dirty = o.dirty
		s.saveErr = o.saveErr
	}
	next.notBefore = time.Time{}
	if o.err != nil || o.degraded || next.dirty {
		next.notBefore = now.Add(s.backoff(&next))
	}
	next.outage = nil
	if o.err != nil && !o.degraded && f.purpose == forRefresh && transient(o.err) {
		next.outage = s.nextProbeLocked(st.outage, o.err, f.trigger, now)
	}
	s.st.Store(&next)
	f.tok, f.err = o.tok, o.err
	s.flight = nil
	close(f.done)
}

// noteRenewal records in next whether its new token came from a renewal,
// and how many renewals in a row produced a token no server accepted.
func (s *Source) noteRenewal(next, prev *state, f *flight, now time.Time) {
	if f.purpose != forRefresh || f.trigger != TriggerRenew {
		next.renewed, next.futile, next.renewHold = false, 0, time.Time{}
		return
	}
	next.renewed, next.futile = true, 0
	if prev.renewed && prev.tok != nil && s.accepted.Load() != prev.tok {
		next.futile = prev.futile + 1
	}
	next.renewHold = now.Add(min(time.Minute<<min(next.futile, 5), 30*time.Minute))
}

// transient reports a failure of the token endpoint that a later attempt
// may not meet: no answer, 429 or a 5xx. Rejections, unknown outcomes and
// local errors are not.
func transient(err error) bool {
	var te *TokenError
	if !errors.As(err, &te) || te.Rejected || errors.Is(err, ErrReauthRequired) {
		return false
	}
	return te.StatusCode == 0 || te.StatusCode == 429 || te.StatusCode >= 500
}

// nextProbeLocked records a failure of the token endpoint (prev: the
// outage so far, if any) and schedules the next probe: capped, jittered
// exponential backoff, one request at a time. s.mu must be held.
func (s *Source) nextProbeLocked(prev *outage, err error, trigger Trigger, now time.Time) *outage {
	o := &outage{err: err, trigger: trigger, since: now}
	if prev != nil {
		o.since, o.attempt = prev.since, prev.attempt+1
		if trigger == "" || trigger == TriggerEarly {
			o.trigger = prev.trigger
		}
	}
	d := probeDelay(s.probeBase, o.attempt, rand.Float64())
	o.next = now.Add(d)
	if s.probe != nil {
		s.probe.Stop()
	}
	s.probe = time.AfterFunc(d, s.runProbe)
	return o
}

// probeDelay is the wait before probe number attempt: base (one second
// when zero) doubled per attempt, at most 8 s, then jittered by ±20% with
// r in [0, 1). It keeps a long outage under 10 token calls a minute.
func probeDelay(base time.Duration, attempt int, r float64) time.Duration {
	if base <= 0 {
		base = time.Second
	}
	d := min(base<<min(attempt, 10), 8*base)
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}

// runProbe starts a probe of the failing token endpoint, unless one runs
// or the outage ended.
func (s *Source) runProbe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if st.outage == nil || s.flight != nil || st.loggedOut {
		return
	}
	s.startLocked(context.Background(), forRefresh, st.outage.trigger)
}

// retrySave saves the published token that an earlier save failed to
// write, unless the Store meanwhile holds a newer one, which is adopted.
func (s *Source) retrySave(ctx context.Context, f *flight) outcome {
	cur := s.state().tok
	if cur == nil {
		return outcome{}
	}
	unlock, err := s.lockStore(ctx)
	if err != nil {
		return outcome{tok: cur, publish: cur, dirty: true, saveErr: err}
	}
	defer unlock()
	cand, err := s.candidate(ctx, f)
	if err == nil && cand != nil && cand != cur {
		s.emit(Event{Kind: EventTokenAdopted})
		return outcome{tok: cand, publish: cand}
	}
	return s.saved(ctx, f, cur)
}

// refresh is the cold path: lock the store, re-read it, then adopt, refresh
// or log in, and save - in that order. finish publishes.
func (s *Source) refresh(ctx context.Context, f *flight) outcome {
	if err := s.checkConfig(); err != nil {
		return outcome{err: err}
	}
	fleet := isVersioned(s.Store)
	for attempt := 0; ; attempt++ {
		f.storeFault = false
		o := s.refreshUnderLock(ctx, f)
		if o.err == nil || !f.storeFault || !fleet {
			return o
		}
		// The engine of a fleet store is briefly away (a restart, a
		// failover) and nothing was sent: the callers wait, bounded by
		// RefreshTimeout and their own contexts, while this one flight
		// tries again, rather than every request failing and opening a
		// connection of its own.
		d := storeRetryDelay(attempt, rand.Float64())
		s.log(ctx, slog.LevelWarn, "the store is unreachable; trying again", "error", o.err, "after", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return o
		case <-t.C:
		}
	}
}

// storeRetryDelay is the pause before attempt+1 at reaching a fleet
// store's engine: 50 ms doubling to 1 s, jittered by ±20% with r in [0, 1).
func storeRetryDelay(attempt int, r float64) time.Duration {
	d := min(50*time.Millisecond<<min(attempt, 5), time.Second)
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}

// refreshUnderLock takes the store's lock, then refreshes, starting over
// (a bounded number of times) when a Versioned store moved on before a
// refresh token was sent.
func (s *Source) refreshUnderLock(ctx context.Context, f *flight) outcome {
	unlock, err := s.lockStore(ctx)
	if err != nil {
		f.storeFault = true
		return outcome{err: err}
	}
	defer unlock()
	for moves := 0; ; moves++ {
		o := s.refreshLocked(ctx, f)
		if !errors.Is(o.err, errStoreMoved) || moves == maxMoves {
			return o
		}
	}
}

// refreshLocked is one pass of refresh under the store's lock. It ends with
// errStoreMoved when a Versioned store moved on before a refresh token was
// sent: the caller starts over from the new record.
func (s *Source) refreshLocked(ctx context.Context, f *flight) outcome {
	cand, err := s.candidate(ctx, f)
	if err != nil {
		return outcome{err: err}
	}
	if cand != nil && f.purpose == forRefresh && s.usable(cand, s.now()) {
		cur := s.state()
		if cand == cur.tok && cur.dirty {
			return s.saved(ctx, f, cand)
		}
		if cand != cur.tok {
			s.emit(Event{Kind: EventTokenAdopted, Trigger: f.trigger})
		}
		return outcome{tok: cand, publish: cand}
	}
	defer s.releaseReservation(f)
	tok, err := s.obtain(ctx, f, cand)
	switch {
	case tok != nil && err != nil:
		// A new refresh token came in an unusable answer: keep it.
		o := outcome{err: err}
		pub, serr := s.save(ctx, f, tok)
		if pub != tok {
			return outcome{tok: pub, publish: pub} // a newer session was adopted
		}
		o.saveErr = serr
		if tok.AccessToken != "" {
			o.publish, o.dirty = tok, o.saveErr != nil
			if !tok.ExpiredAt(s.now()) {
				o.tok, o.err, o.degraded = tok, nil, true
			}
		}
		return o
	case err != nil:
		if cand != nil && f.purpose == forRefresh && s.serves(cand, s.now()) {
			// The current token still works; keep serving it and let a
			// later call try again after a pause.
			cur := s.state()
			if cand != cur.tok {
				s.emit(Event{Kind: EventTokenAdopted, Trigger: f.trigger})
			}
			return outcome{tok: cand, publish: cand, dirty: cand == cur.tok && cur.dirty, degraded: true}
		}
		return outcome{err: err}
	}
	return s.saved(ctx, f, tok)
}

// lockStore takes the Store's lock when it has one; unlock releases it.
func (s *Source) lockStore(ctx context.Context) (unlock func(), err error) {
	l, ok := s.Store.(storage.Locker)
	if !ok {
		return func() {}, nil
	}
	release, err := l.Lock(ctx, s.key())
	if err != nil {
		return nil, errorf("lock store: %w", err)
	}
	return func() { s.unlock(release) }, nil
}

// candidate returns the newest token known: the one in memory or the one
// in Store. The store always holds the latest token any process saved, so
// a differing stored token is newer than ours unless our own save failed.
func (s *Source) candidate(ctx context.Context, f *flight) (*Token, error) {
	cur := s.state()
	mem := cur.tok
	if s.Store == nil {
		return mem, nil
	}
	b, err := s.readStored(ctx, f)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return mem, nil
	case errors.Is(err, storage.ErrNewerFormat):
		return nil, &NewerSessionError{Key: s.key(), Err: err}
	case errors.Is(err, storage.ErrCorrupt):
		s.quarantine(ctx, err)
		return mem, nil
	case err != nil && mem != nil && !isVersioned(s.Store):
		s.log(ctx, slog.LevelWarn, "reading the store failed; using the token in memory", "error", err)
		return mem, nil
	case err != nil:
		f.storeFault = true
		return nil, errorf("load: %w", err)
	}
	stored, err := DecodeToken(b)
	if errors.Is(err, storage.ErrNewerFormat) {
		return nil, &NewerSessionError{Key: s.key(), Err: err}
	}
	if err != nil {
		s.quarantine(ctx, err)
		return mem, nil
	}
	if err := s.checkOwner(stored); err != nil {
		if f.purpose == forLogin {
			return mem, nil // an explicit login replaces it
		}
		return nil, err
	}
	switch {
	case mem == nil:
		return stored, nil
	case stored.AccessToken == mem.AccessToken && stored.RefreshToken == mem.RefreshToken:
		// The same token; what the store records about its refresh
		// token (another process's intent or rejection) still counts.
		s.learn(stored.RefreshToken, stored.fate)
		return mem, nil
	case !cur.dirty || stored.IssuedAt.After(mem.IssuedAt):
		return stored, nil
	}
	return mem, nil
}

// quarantine deals with an unreadable stored session, which the next save
// replaces: a Store that can keep the bytes aside does so first.
func (s *Source) quarantine(ctx context.Context, cause error) {
	q, ok := s.Store.(storage.Quarantiner)
	if !ok {
		s.log(ctx, slog.LevelWarn, "the stored session is unreadable; it will be replaced", "error", cause)
		return
	}
	where, err := q.Quarantine(ctx, s.key())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log(ctx, slog.LevelWarn, "the stored session is unreadable and could not be moved aside; it will be replaced",
			"error", cause, "quarantine_error", err)
		return
	}
	s.log(ctx, slog.LevelWarn, "the stored session is unreadable; moved aside, it will be replaced", "error", cause, "kept_at", where)
}

// isRejected reports whether tok is the token a server refused.
func (s *Source) isRejected(tok *Token) bool {
	st := s.state()
	return st.rejected && st.tok != nil && st.tok.AccessToken == tok.AccessToken
}

// serves reports whether tok can still be handed out while getting a new
// one failed: it has an access token no server refused, not yet expired.
func (s *Source) serves(tok *Token, now time.Time) bool {
	return tok.AccessToken != "" && !s.isRejected(tok) && !tok.ExpiredAt(now)
}

// usable reports whether tok can answer a refresh without a network call:
// it serves and is not yet due for refresh.
func (s *Source) usable(tok *Token, now time.Time) bool {
	if !s.serves(tok, now) {
		return false
	}
	at := s.refreshAt(tok, now)
	return at.IsZero() || now.Before(at)
}

// publicTrigger is the public trigger of f's events: the refresh trigger, or
// TriggerCaller for Source.Login.
func (f *flight) publicTrigger() Trigger {
	if f.purpose == forLogin {
		return TriggerCaller
	}
	return f.trigger
}

func (s *Source) callRefresh(ctx context.Context, f *flight, old *Token) (*Token, error) {
	trigger := f.publicTrigger()
	s.emit(Event{Kind: EventRefreshStarted, Trigger: trigger})
	start := time.Now()
	tok, err := s.Grant.Refresh(ctx, old.RefreshToken)
	if err == nil {
		err = checkToken(tok)
	}
	if err != nil {
		err = withOp("refresh", err)
		s.emit(Event{Kind: EventRefreshFailed, Trigger: trigger, Duration: time.Since(start), Err: err})
		if tok == nil || tok.RefreshToken == "" || tok.RefreshToken == old.RefreshToken {
			return nil, err
		}
		// An unusable answer that still carries a new refresh token: the
		// server rotated, so the new refresh token must be kept.
		return s.received(tok), err
	}
	tok = s.received(tok)
	if tok.RefreshToken == "" {
		tok.RefreshToken, tok.RefreshExpiry = old.RefreshToken, old.RefreshExpiry
	}
	if tok.IDToken == "" {
		tok.IDToken = old.IDToken // OpenID Connect may omit it on refresh
	}
	rotated := tok.RefreshToken != old.RefreshToken
	// The answer settles the intent: the old refresh token is spent when
	// the server rotated it, and still good (with no intent) when not.
	s.known = known{rt: old.RefreshToken, spent: rotated}
	s.emit(Event{Kind: EventRefreshFinished, Trigger: trigger, Duration: time.Since(start), Rotated: rotated, ClockSkew: tok.ClockSkew})
	return tok, nil
}

// errNeedsHuman is returned instead of running an Interactive grant's
// login inside a refresh.
var errNeedsHuman = errorf("%w: logging in again needs a human (a browser or a device code): call Source.Login", ErrReauthRequired)

func (s *Source) callLogin(ctx context.Context, f *flight) (*Token, error) {
	if f.purpose != forLogin && interactive(s.Grant) {
		return nil, errNeedsHuman
	}
	trigger := f.publicTrigger()
	s.emit(Event{Kind: EventLoginStarted, Trigger: trigger})
	start := time.Now()
	tok, err := s.Grant.Login(ctx)
	if err == nil {
		err = checkToken(tok)
	}
	if err != nil {
		err = withOp("login", err)
		s.emit(Event{Kind: EventLoginFailed, Trigger: trigger, Duration: time.Since(start), Err: err})
		if tok != nil && tok.RefreshToken != "" {
			// An unusable answer that still started a session: keep
			// its refresh token.
			return s.received(tok), err
		}
		return nil, err
	}
	s.emit(Event{Kind: EventLoginFinished, Trigger: trigger, Duration: time.Since(start), ClockSkew: tok.ClockSkew})
	return s.received(tok), nil
}

var errGrantNoAccessToken = newError("the grant returned no access token")

func checkToken(tok *Token) error {
	if tok == nil || tok.AccessToken == "" {
		return errGrantNoAccessToken
	}
	return nil
}

// received takes ownership of a token a Grant returned.
func (s *Source) received(tok *Token) *Token {
	tok = tok.clone()
	if tok.IssuedAt.IsZero() {
		tok.IssuedAt = s.now()
	}
	return tok
}

// save writes tok to Store and reports a failure, which is not fatal: the
// token is published anyway (the old refresh token may be spent already)
// and the save is retried later and on Close.
func (s *Source) save(ctx context.Context, f *flight, tok *Token) (*Token, error) {
	if s.Store == nil {
		return tok, nil
	}
	wasDirty := s.state().dirty
	err := s.write(ctx, f, tok)
	for tries := 0; errors.Is(err, storage.ErrConflict) && tries < maxMoves; tries++ {
		// A Versioned store moved on: adopt a newer session found there.
		var newer *Token
		if newer, err = s.afterConflict(ctx, f, tok); newer != nil {
			s.emit(Event{Kind: EventTokenAdopted, Trigger: f.trigger})
			return newer, nil
		}
	}
	if err != nil {
		err = errorf("save: %w", err)
		s.log(ctx, slog.LevelWarn, "saving the new token failed; keeping it in memory and retrying later", "error", err)
		s.emit(Event{Kind: EventSaveFailed, Err: err})
		return tok, err
	}
	if wasDirty {
		s.emit(Event{Kind: EventSaveFinished})
	}
	return tok, nil
}

// saved is the outcome of saving tok: the token to publish (tok, or a
// newer one adopted from the store) and whether it is not in the store.
func (s *Source) saved(ctx context.Context, f *flight, tok *Token) outcome {
	pub, err := s.save(ctx, f, tok)
	return outcome{tok: pub, publish: pub, dirty: err != nil, saveErr: err}
}

// refreshAt returns when tok should be refreshed in the background: its
// expiry less the early-refresh margin. Zero means never by the clock.
func (s *Source) refreshAt(tok *Token, now time.Time) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	life := tok.Expiry.Sub(tok.IssuedAt)
	if tok.IssuedAt.IsZero() || life <= 0 {
		life = tok.Expiry.Sub(now)
	}
	margin := min(max(life/5, 0), maxMargin)
	if s.EarlyRefresh > 0 {
		// A configured margin longer than the token lives would make every
		// new token due at once: refresh halfway at the latest.
		margin = min(s.EarlyRefresh, max(life/2, 0))
	}
	return tok.Expiry.Add(-margin)
}

// backoff is the pause before background work is tried again after a
// failure: a quarter of st's token's margin, between 100ms and 30s.
func (s *Source) backoff(st *state) time.Duration {
	d := 5 * time.Second
	if st.tok != nil && !st.refreshAt.IsZero() {
		d = st.tok.Expiry.Sub(st.refreshAt) / 4
	}
	return min(max(d, 100*time.Millisecond), 30*time.Second)
}

func (s *Source) unlock(unlock func() error) {
	if err := unlock(); err != nil {
		s.log(context.Background(), slog.LevelWarn, "releasing the store lock failed", "error", err)
	}
}

func (s *Source) emit(e Event) {
	if s.Logger != nil {
		level := slog.LevelDebug
		switch e.Kind {
		case EventLoginFinished, EventTokenAdopted, EventSaveFinished:
			level = slog.LevelInfo
		case EventRefreshFailed, EventLoginFailed, EventSaveFailed, EventRefreshOutcomeUnknown:
			level = slog.LevelWarn
		}
		attrs := make([]any, 0, 10)
		if e.Trigger != "" {
			attrs = append(attrs, "trigger", string(e.Trigger))
		}
		if e.Duration > 0 {
			attrs = append(attrs, "duration", e.Duration)
		}
		if e.Rotated {
			attrs = append(attrs, "rotated", true)
		}
		if e.ClockSkew != 0 {
			attrs = append(attrs, "server_clock_skew", e.ClockSkew)
		}
		if e.Err != nil {
			attrs = append(attrs, "error", e.Err)
		}
		s.Logger.Log(context.Background(), level, "tokensource: "+string(e.Kind), attrs...)
	}
	if s.OnEvent != nil {
		s.OnEvent(e)
	}
}

func (s *Source) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Log(ctx, level, "tokensource: "+msg, args...)
	}
}
