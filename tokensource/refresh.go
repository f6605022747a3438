package tokensource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// maxMargin caps the early-refresh margins.
const maxMargin = time.Minute

// run executes flight f and hands its result to every waiter.
func (s *Source) run(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, s.refreshTimeout())
	defer cancel()
	tok, degraded, err := s.refresh(ctx, f.trigger)
	now := s.now()
	s.mu.Lock()
	// The pause is set before the flight is cleared, under the lock that
	// starts the next flight: an older flight's failure can never hold off
	// refreshes after a newer one succeeded.
	switch {
	case err != nil || degraded || s.dirty.Load():
		s.notBefore.Store(now.Add(s.backoff()).UnixNano())
	default:
		s.notBefore.Store(0)
	}
	f.tok, f.err = tok, err
	s.flight = nil
	close(f.done)
	s.mu.Unlock()
}

// refresh is the cold path: lock the store, re-read it, then adopt, refresh
// or log in, save, and publish - in that order. Degraded reports that
// getting a new token failed but the current one still serves.
func (s *Source) refresh(ctx context.Context, trigger Trigger) (tok *Token, degraded bool, err error) {
	if err := s.checkConfig(); err != nil {
		return nil, false, err
	}
	if l, ok := s.Store.(storage.Locker); ok {
		unlock, err := l.Lock(ctx, s.key())
		if err != nil {
			return nil, false, fmt.Errorf("tokensource: lock store: %w", err)
		}
		defer s.unlock(unlock)
	}
	cand, err := s.candidate(ctx, trigger)
	if err != nil {
		return nil, false, err
	}
	if cand != nil && s.usable(cand, trigger, s.now()) {
		if s.dirty.Load() {
			s.save(ctx, cand)
		}
		return s.adopt(cand), false, nil
	}
	defer s.releaseReservation()
	tok, err = s.obtain(ctx, cand, trigger)
	if tok != nil && err != nil {
		// A new refresh token came in an unusable answer: keep it.
		s.save(ctx, tok)
		if tok.AccessToken != "" {
			s.publish(tok)
		}
		if s.usable(tok, triggerSave, s.now()) {
			return tok, true, nil
		}
		return nil, false, err
	}
	if err != nil {
		if cand != nil && trigger != triggerLogin && s.usable(cand, triggerSave, s.now()) {
			// The current token still works; keep serving it and let a
			// later call try again after a pause.
			return s.adopt(cand), true, nil
		}
		return nil, false, err
	}
	s.save(ctx, tok)
	s.publish(tok)
	return tok, false, nil
}

// candidate returns the newest token known: the one in memory or the one
// in Store. The store always holds the latest token any process saved, so
// a differing stored token is newer than ours unless our own save failed.
func (s *Source) candidate(ctx context.Context, trigger Trigger) (*Token, error) {
	var mem *Token
	if h := s.cur.Load(); h != nil {
		mem = h.tok
	}
	if s.Store == nil {
		return mem, nil
	}
	b, err := s.Store.Get(ctx, s.key())
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return mem, nil
	case errors.Is(err, storage.ErrNewerFormat):
		return nil, &NewerSessionError{Key: s.key(), Err: err}
	case errors.Is(err, storage.ErrCorrupt):
		s.quarantine(ctx, err)
		return mem, nil
	case err != nil && mem != nil:
		s.log(ctx, slog.LevelWarn, "reading the store failed; using the token in memory", "error", err)
		return mem, nil
	case err != nil:
		return nil, fmt.Errorf("tokensource: load: %w", err)
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
		if trigger == triggerLogin {
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
	case !s.dirty.Load() || stored.IssuedAt.After(mem.IssuedAt):
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

// usable reports whether tok can be handed out for trigger without a
// network call.
func (s *Source) usable(tok *Token, trigger Trigger, now time.Time) bool {
	if tok.AccessToken == "" {
		return false
	}
	if r := s.rejected.Load(); r != nil && r.AccessToken == tok.AccessToken {
		return false
	}
	switch trigger {
	case triggerLogin:
		return false
	case triggerSave:
		return !tok.ExpiredAt(now)
	}
	at := s.refreshAt(tok, now)
	return at.IsZero() || now.Before(at)
}

// adopt publishes tok unless it is already the published token.
func (s *Source) adopt(tok *Token) *Token {
	if h := s.cur.Load(); h != nil && h.tok == tok {
		return tok
	}
	s.emit(Event{Kind: EventAdopted})
	s.publish(tok)
	return tok
}

func (s *Source) callRefresh(ctx context.Context, old *Token, trigger Trigger) (*Token, error) {
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
	rotated := tok.RefreshToken != old.RefreshToken
	// The answer settles the intent: the old refresh token is spent when
	// the server rotated it, and still good (with no intent) when not.
	s.known = known{rt: old.RefreshToken, spent: rotated}
	s.emit(Event{Kind: EventRefreshFinished, Trigger: trigger, Duration: time.Since(start), Rotated: rotated, ClockSkew: tok.ClockSkew})
	return tok, nil
}

func (s *Source) callLogin(ctx context.Context, trigger Trigger) (*Token, error) {
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
	s.emit(Event{Kind: EventLogin, Trigger: trigger, Duration: time.Since(start), ClockSkew: tok.ClockSkew})
	return s.received(tok), nil
}

func checkToken(tok *Token) error {
	if tok == nil || tok.AccessToken == "" {
		return errors.New("grant returned no access token")
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

// save writes tok to Store. A failure is reported, not returned: the token
// is published anyway (the old refresh token may be spent already) and the
// save is retried later and on Close.
func (s *Source) save(ctx context.Context, tok *Token) {
	if s.Store == nil {
		return
	}
	err := s.write(ctx, tok)
	s.mu.Lock()
	s.saveErr = err
	s.mu.Unlock()
	if err != nil {
		s.dirty.Store(true)
		err = fmt.Errorf("tokensource: save: %w", err)
		s.log(ctx, slog.LevelWarn, "saving the new token failed; keeping it in memory and retrying later", "error", err)
		s.emit(Event{Kind: EventSaveFailed, Err: err})
		return
	}
	if s.dirty.Swap(false) {
		s.emit(Event{Kind: EventSaved})
	}
}

// publish makes tok the token that Token returns.
func (s *Source) publish(tok *Token) {
	tok.prepare()
	h := &held{tok: tok, refreshAt: s.refreshAt(tok, s.now())}
	s.mu.Lock()
	s.cur.Store(h)
	s.rejected.Store(nil)
	s.mu.Unlock()
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
// failure: a quarter of the current token's margin, between 100ms and 30s.
func (s *Source) backoff() time.Duration {
	d := 5 * time.Second
	if h := s.cur.Load(); h != nil && !h.refreshAt.IsZero() {
		d = h.tok.Expiry.Sub(h.refreshAt) / 4
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
		case EventLogin, EventAdopted, EventSaved:
			level = slog.LevelInfo
		case EventRefreshFailed, EventLoginFailed, EventSaveFailed, EventRefreshOutcomeUnknown:
			level = slog.LevelWarn
		}
		attrs := []any{"trigger", string(e.Trigger)}
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
