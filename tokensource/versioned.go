package tokensource

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// A Store shared by a fleet of processes on many machines implements
// storage.Versioned: its record carries a generation, and every write of a
// flight is a compare-and-set on the generation the flight read. The
// intent written before a refresh token is sent is such a write, so it
// fences the send: a process whose lock lapsed (paused, partitioned, the
// engine restarted) finds that the store moved on, sends nothing and
// adopts what it finds. The save of the answer is one too, so a late
// process never rolls the store back to an older session. A refresh that
// finds another process's refresh in flight waits for it to be saved
// (InFlightWait) instead of logging in at once: that process may be alive
// and merely slow, and its answer is then adopted.

// errStoreMoved reports that a Versioned store's record moved on while a
// flight worked from an older generation: the flight re-reads it.
var errStoreMoved = errorf("%w: the stored session moved on during the refresh", storage.ErrConflict)

// maxMoves bounds how often one flight starts over after the store moved.
const maxMoves = 3

// isVersioned reports whether st is a fleet store (storage.Versioned).
// A flight never writes one without having read the generation it writes
// on: when the read fails, the flight fails (and tries again), instead of
// going on with the token in memory, which another process may already
// have rotated.
func isVersioned(st storage.Store) bool {
	_, ok := st.(storage.Versioned)
	return ok
}

// readStored reads the stored session. With a Versioned store it records
// in f the generation the flight's writes start from.
func (s *Source) readStored(ctx context.Context, f *flight) ([]byte, error) {
	v, ok := s.Store.(storage.Versioned)
	if !ok {
		return s.Store.Get(ctx, s.key())
	}
	b, gen, err := v.GetVersioned(ctx, s.key())
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		f.gen, f.versioned = gen, true
	}
	return b, err
}

// storeValue writes b: a compare-and-set on the generation f read when the
// Store is Versioned, else a Put.
func (s *Source) storeValue(ctx context.Context, f *flight, b []byte) error {
	v, ok := s.Store.(storage.Versioned)
	if !ok || !f.versioned {
		return s.Store.Put(ctx, s.key(), b)
	}
	gen, err := v.CompareAndSwap(ctx, s.key(), f.gen, b)
	if err != nil {
		return err
	}
	f.gen = gen
	return nil
}

// afterConflict re-reads a Versioned store whose record moved on since f
// read it, when tok was to be saved. A newer session found there is
// returned, for adoption. Otherwise the record is our own save whose
// acknowledgement was lost (nothing to do), the token tok replaced, a
// logout's tombstone or unreadable: tok is written over it.
func (s *Source) afterConflict(ctx context.Context, f *flight, tok *Token) (*Token, error) {
	v := s.Store.(storage.Versioned)
	b, gen, err := v.GetVersioned(ctx, s.key())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	f.gen, f.versioned = gen, true
	if err == nil {
		stored, derr := DecodeToken(b)
		if derr == nil && s.checkOwner(stored) == nil {
			cur := s.state().tok
			switch {
			case sameToken(stored, tok):
				return nil, nil
			case s.known.spent && stored.RefreshToken == s.known.rt:
				// The session tok's refresh rotated away: ours is newer.
			case cur != nil && sameToken(stored, cur):
				// The session tok replaces, written again (an intent or a
				// rejection recorded by another process): ours is newer.
			default:
				return stored, nil
			}
		}
	}
	return nil, s.put(ctx, f, tok)
}

// sameToken reports whether a and b hold the same access and refresh
// tokens.
func sameToken(a, b *Token) bool {
	return a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken
}

// inFlightWait is InFlightWait or its default.
func (s *Source) inFlightWait() time.Duration {
	if s.InFlightWait == 0 {
		return 10 * time.Second
	}
	return s.InFlightWait
}

// awaitInFlight waits, when Store is Versioned, for another process's
// refresh of cand's refresh token (its intent, fate, is in the store) to
// be saved: up to InFlightWait from when it was sent. It reports whether
// the store moved on meanwhile (the flight re-reads it); false means the
// wait is over and the refresh token must be taken as spent.
func (s *Source) awaitInFlight(ctx context.Context, f *flight, cand *Token, fate fate) (moved bool, err error) {
	v, ok := s.Store.(storage.Versioned)
	wait := s.inFlightWait()
	if !ok || !f.versioned || wait <= 0 || (s.known.rt == cand.RefreshToken && s.known.sentHere) {
		return false, nil
	}
	age := min(max(s.now().Sub(fate.sentAt), 0), wait)
	deadline := time.Now().Add(wait - age)
	if !time.Now().Before(deadline) {
		return false, nil
	}
	s.log(ctx, slog.LevelInfo, "another process's refresh is in flight; waiting for its answer to be saved")
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for poll := 10 * time.Millisecond; ; poll = min(2*poll, 200*time.Millisecond) {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		timer.Reset(min(poll, left))
		select {
		case <-ctx.Done():
			return false, errorf("waiting for another process's refresh: %w", ctx.Err())
		case <-timer.C:
		}
		_, gen, err := v.GetVersioned(ctx, s.key())
		if (err == nil || errors.Is(err, storage.ErrNotFound)) && gen != f.gen {
			return true, nil
		}
	}
}
