package tokensource

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// A refresh token is sent at most once. Before it is sent, the Store must
// show that it can take the answer (a reservation), and an intent is
// written: "this refresh token was sent at T". The save of the new token
// clears the intent. Whoever finds an intent without a successor (this
// process after a lost answer, another process after a crash) knows the
// token may be spent and logs in instead of replaying it, unless the
// grant's server has a reuse grace period (ReuseGracer) that allows one
// more try. A rejection is recorded the same way, so no process sends a
// rejected refresh token again.

// known is what this process learned about one refresh token.
type known struct {
	rt    string
	fate  fate
	spent bool // rotated away by a refresh of ours
	// sentHere: this process sent it (its intent in the store is ours).
	sentHere bool
	// unsentAt is the time of an intent this process wrote for rt, or
	// tried to, and then did not send, because the write failed: found
	// in the store, that intent is no reason to take rt as spent.
	unsentAt time.Time
}

// learn merges what the store records about refresh token rt into
// s.known.
func (s *Source) learn(rt string, f fate) {
	if s.known.rt != rt {
		s.known = known{rt: rt}
	}
	k := &s.known.fate
	if k.sentAt.IsZero() || (!f.sentAt.IsZero() && f.sentAt.Before(k.sentAt)) {
		k.sentAt = f.sentAt
	}
	k.resent = k.resent || f.resent
	k.rejected = k.rejected || f.rejected
}

// fateOf returns what is known about tok's refresh token, from the store's
// record (carried by tok) and from this process.
func (s *Source) fateOf(tok *Token) fate {
	f := tok.fate
	if s.known.rt == tok.RefreshToken {
		if f.sentAt.IsZero() {
			f.sentAt = s.known.fate.sentAt
		}
		f.resent = f.resent || s.known.fate.resent
		f.rejected = f.rejected || s.known.fate.rejected
		if !s.known.unsentAt.IsZero() && f.sentAt.Equal(s.known.unsentAt) && !f.resent {
			f.sentAt = time.Time{} // our own intent, never sent
		}
	}
	return f
}

// obtain gets a new token: by refresh while the refresh token may be sent,
// else by logging in.
func (s *Source) obtain(ctx context.Context, f *flight, cand *Token) (*Token, error) {
	if f.purpose == forLogin || cand == nil || cand.RefreshToken == "" {
		return s.callLogin(ctx, f)
	}
	now := s.now()
	fate := s.fateOf(cand)
	switch {
	case fate.rejected || (s.known.rt == cand.RefreshToken && s.known.spent):
		s.log(ctx, slog.LevelInfo, "the refresh token was rejected or used before; logging in again")
		return s.relogin(ctx, f, ErrReauthRequired, "rejected")
	case !fate.sentAt.IsZero() && !s.mayResend(fate, now):
		if moved, err := s.awaitInFlight(ctx, f, cand, fate); moved || err != nil {
			return nil, cmp.Or(err, errStoreMoved)
		}
		s.emit(Event{Kind: EventRefreshOutcomeUnknown, Trigger: f.trigger, Err: ErrRefreshOutcomeUnknown})
		return s.relogin(ctx, f, ErrRefreshOutcomeUnknown, "possibly spent")
	case !s.refreshable(cand, now):
		return s.callLogin(ctx, f)
	}
	tok, err := s.spend(ctx, f, cand, fate)
	switch {
	case err == nil || !errors.Is(err, ErrReauthRequired):
		return tok, err
	case errors.Is(err, ErrRefreshOutcomeUnknown):
		return s.relogin(ctx, f, err, "possibly spent")
	}
	return s.relogin(ctx, f, err, "rejected")
}

// relogin logs in after the refresh token turned out unusable for the
// reason given; cause stays reachable with errors.Is when that fails too.
func (s *Source) relogin(ctx context.Context, f *flight, cause error, why string) (*Token, error) {
	s.log(ctx, slog.LevelInfo, "refresh token unusable; logging in again", "reason", why)
	tok, err := s.callLogin(ctx, f)
	if err != nil {
		return tok, &afterRefreshError{login: err, refresh: cause, why: why}
	}
	return tok, nil
}

// afterRefreshError is a failed login that followed an unusable refresh
// token. It matches both causes with errors.Is and errors.As.
type afterRefreshError struct {
	login, refresh error
	why            string
}

func (e *afterRefreshError) Error() string { return prefix + e.bare() }

func (e *afterRefreshError) bare() string {
	return bareMessage(e.login) + " (after the refresh token was " + e.why + ")"
}

func (e *afterRefreshError) Unwrap() []error { return []error{e.login, e.refresh} }

// refreshable reports whether tok's refresh token is present and not
// expired or about to.
func (s *Source) refreshable(tok *Token, now time.Time) bool {
	if tok.RefreshToken == "" {
		return false
	}
	if tok.RefreshExpiry.IsZero() {
		return true
	}
	margin := min(max(tok.RefreshExpiry.Sub(tok.IssuedAt)/20, 0), maxMargin)
	return now.Add(margin).Before(tok.RefreshExpiry)
}

// mayResend reports whether a refresh token whose outcome is unknown may be
// sent once more: the grant's server has a reuse grace period, it has not
// passed since the token was first sent, and the one re-send is unused.
func (s *Source) mayResend(f fate, now time.Time) bool {
	g, ok := s.Grant.(ReuseGracer)
	if !ok || f.resent || f.sentAt.IsZero() {
		return false
	}
	grace := g.RefreshReuseGrace()
	return grace > 0 && now.Sub(f.sentAt) < grace
}

// spend sends cand's refresh token: reserve the save, write the intent,
// send, then record what the answer means for the old refresh token. A
// token sent before (f.sentAt set) is being re-sent inside a grace period.
func (s *Source) spend(ctx context.Context, fl *flight, cand *Token, f fate) (*Token, error) {
	if err := s.reserve(ctx, fl, cand); err != nil {
		return nil, err
	}
	// From the intent on, abandoning the flight would cost a login.
	fl.sending.Store(true)
	for {
		first := f.sentAt.IsZero()
		if first {
			f.sentAt = s.now()
		} else {
			f.resent = true
		}
		if err := s.mark(ctx, fl, cand, f, false); err != nil {
			// Nothing was sent: a store that could not take the intent
			// may be tried again, and the intent, if it landed after
			// all, does not make the refresh token spent.
			fl.storeFault = !errors.Is(err, errStoreMoved)
			if fl.storeFault && first {
				s.known = known{rt: cand.RefreshToken, unsentAt: f.sentAt}
			}
			return nil, err
		}
		tok, err := s.callRefresh(ctx, fl, cand)
		switch {
		case err == nil:
			return tok, nil
		case errors.Is(err, ErrRefreshOutcomeUnknown):
			s.emit(Event{Kind: EventRefreshOutcomeUnknown, Trigger: fl.trigger, Err: err})
			if s.mayResend(f, s.now()) {
				continue
			}
			return nil, err // the intent stays: the token may be spent
		case errors.Is(err, ErrReauthRequired):
			s.markQuietly(ctx, fl, cand, fate{rejected: true})
			return nil, err
		case tok != nil:
			// Rotated, but the answer had no usable access token: keep
			// the new refresh token beside the old access token.
			s.known = known{rt: cand.RefreshToken, spent: true}
			merged := cand.clone()
			merged.fate = fate{}
			merged.RefreshToken, merged.RefreshExpiry = tok.RefreshToken, tok.RefreshExpiry
			return merged, err
		}
		// Not processed by the server: the refresh token is unspent.
		s.markQuietly(ctx, fl, cand, fate{})
		return nil, err
	}
}

// mark records f for cand's refresh token, in memory and in the Store. A
// write that fails before the token is sent means the refresh is not sent.
func (s *Source) mark(ctx context.Context, fl *flight, cand *Token, f fate, reserved bool) error {
	prev := s.known
	s.known = known{rt: cand.RefreshToken, fate: f, sentHere: !f.sentAt.IsZero()}
	if s.Store == nil {
		return nil
	}
	t := cand.clone()
	t.fate = f
	var err error
	if reserved {
		err = s.write(ctx, fl, t)
	} else {
		err = s.put(ctx, fl, t)
	}
	switch {
	case errors.Is(err, storage.ErrConflict):
		s.known = prev // nothing was recorded, nor sent
		return errStoreMoved
	case err != nil:
		return storeUnwritable(err)
	}
	return nil
}

// markQuietly records f after the answer came; a failure is logged, since
// the answer is known in memory anyway.
func (s *Source) markQuietly(ctx context.Context, fl *flight, cand *Token, f fate) {
	if err := s.mark(ctx, fl, cand, f, true); err != nil {
		s.log(ctx, slog.LevelWarn, "recording the refresh token's state failed", "error", err)
	}
}

// reserve asks a Store that can tell whether the save of a refresh's
// answer will land. It fails with ErrStoreUnwritable when it will not.
func (s *Source) reserve(ctx context.Context, f *flight, cand *Token) error {
	r, ok := s.Store.(storage.Reserver)
	if !ok {
		return nil
	}
	b, err := EncodeToken(cand)
	if err != nil {
		return err
	}
	res, err := r.Reserve(ctx, s.key(), max(2*len(b), 8<<10))
	if err != nil {
		return storeUnwritable(err)
	}
	f.res = res
	return nil
}

// releaseReservation gives back a reservation the flight did not use.
func (s *Source) releaseReservation(f *flight) {
	if f.res == nil {
		return
	}
	if err := f.res.Release(); err != nil {
		s.log(context.Background(), slog.LevelWarn, "releasing the store reservation failed", "error", err)
	}
	f.res = nil
}

// write saves tok through the reservation when flight f holds one, else
// with Put.
func (s *Source) write(ctx context.Context, f *flight, tok *Token) error {
	if f.res == nil {
		return s.put(ctx, f, tok)
	}
	b, err := s.encode(tok)
	if err != nil {
		return err
	}
	res := f.res
	f.res = nil
	return s.gated(ctx, f, func() error { return res.Commit(ctx, b) })
}

func (s *Source) put(ctx context.Context, f *flight, tok *Token) error {
	b, err := s.encode(tok)
	if err != nil {
		return err
	}
	return s.gated(ctx, f, func() error { return s.storeValue(ctx, f, b) })
}

// gated runs the store write fn of flight f through the gate, unless
// Logout ended f's session.
func (s *Source) gated(ctx context.Context, f *flight, fn func() error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.leave()
	if s.state().epoch != f.epoch {
		return ErrLoggedOut
	}
	return fn()
}

// storeUnwritable wraps a Store's refusal in ErrStoreUnwritable.
func storeUnwritable(err error) error {
	return errorfJoin("%w: %w", ErrStoreUnwritable, err)
}

// encode serializes tok for the Store, recording whose it is.
func (s *Source) encode(tok *Token) ([]byte, error) {
	if id := s.identity(); id != "" && tok.identity != id {
		tok = tok.clone()
		tok.identity = id
	}
	return EncodeToken(tok)
}
