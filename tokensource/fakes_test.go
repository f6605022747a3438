package tokensource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/storage"
)

// newSTClock returns the module's fake clock at a fixed instant.
func newSTClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
}

// stGrant is an in-process authorization server behind the Grant
// interface: it rotates refresh tokens, treats reuse as theft, and counts.
type stGrant struct {
	now        func() time.Time
	ttl, rttl  time.Duration
	noCreds    bool
	omitRotate bool // refresh answers without a new refresh token

	mu         sync.Mutex
	seq        int
	live       map[string]bool // refresh tokens that may be used
	used       map[string]bool // refresh tokens already presented
	logins     int
	refreshes  int
	reuses     int
	refreshErr error // returned by Refresh (a transient failure) while set
	// lostNext rotates the next refreshes server-side, then reports their
	// outcome as unknown (a gateway 504, a reset after the request).
	lostNext int
	// brokenNext rotates the next refreshes and answers without an access
	// token (the new refresh token is in the answer).
	brokenNext int
	// grace lets a rotated-away refresh token be used again for this long
	// without counting as reuse; rotatedAt records when each was rotated.
	grace     time.Duration
	rotatedAt map[string]time.Time
	graceUses int
	sent      map[string]int // how often each refresh token was presented
	gate      chan struct{}  // while non-nil, Refresh waits for it to close
	started   chan struct{}  // if non-nil, receives a value when Refresh starts
}

func newSTGrant(now func() time.Time) *stGrant {
	return &stGrant{now: now, ttl: 15 * time.Minute, rttl: 12 * time.Hour,
		live: map[string]bool{}, used: map[string]bool{}, rotatedAt: map[string]time.Time{}, sent: map[string]int{}}
}

func (g *stGrant) issueLocked(rt string) *Token {
	g.seq++
	if rt == "" {
		rt = fmt.Sprintf("rt-%d-secret", g.seq)
		g.live[rt] = true
	}
	now := g.now()
	return &Token{AccessToken: fmt.Sprintf("at-%d-secret", g.seq), TokenType: "bearer", RefreshToken: rt,
		Expiry: now.Add(g.ttl), RefreshExpiry: now.Add(g.rttl)}
}

func (g *stGrant) Login(ctx context.Context) (*Token, error) {
	if g.noCreds {
		return nil, fmt.Errorf("%w: no password", ErrReauthRequired)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.logins++
	return g.issueLocked(""), nil
}

func (g *stGrant) Refresh(ctx context.Context, rt string) (*Token, error) {
	g.mu.Lock()
	gate, started := g.gate, g.started
	g.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refreshes++
	if g.refreshErr != nil {
		return nil, g.refreshErr
	}
	g.sent[rt]++
	inGrace := false
	if at, ok := g.rotatedAt[rt]; ok && g.grace > 0 && g.now().Sub(at) < g.grace {
		g.graceUses++
		inGrace = true
	}
	if !inGrace && (g.used[rt] || !g.live[rt]) {
		if g.used[rt] {
			g.reuses++
		}
		return nil, &TokenError{Op: "refresh", StatusCode: 400, Code: "invalid_grant", Rejected: true}
	}
	if g.omitRotate {
		t := g.issueLocked(rt)
		t.RefreshToken, t.RefreshExpiry = "", time.Time{}
		return t, nil
	}
	if !inGrace {
		g.used[rt], g.live[rt] = true, false
		g.rotatedAt[rt] = g.now()
	}
	tok := g.issueLocked("")
	switch {
	case g.lostNext > 0:
		g.lostNext--
		return nil, &TokenError{Op: "refresh", StatusCode: 504, Err: ErrRefreshOutcomeUnknown}
	case g.brokenNext > 0:
		g.brokenNext--
		return &Token{RefreshToken: tok.RefreshToken, RefreshExpiry: tok.RefreshExpiry},
			&TokenError{Op: "refresh", StatusCode: 200, Err: errorf("%w: no access token", ErrMalformedResponse)}
	}
	return tok, nil
}

// RefreshReuseGrace implements ReuseGracer.
func (g *stGrant) RefreshReuseGrace() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.grace
}

// maxSent is the most times one refresh token was presented.
func (g *stGrant) maxSent() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, c := range g.sent {
		n = max(n, c)
	}
	return n
}

// block makes every Refresh wait until gate is closed; started receives a
// value as each Refresh begins.
func (g *stGrant) block() (gate chan struct{}, started chan struct{}) {
	gate, started = make(chan struct{}), make(chan struct{}, 1)
	g.set(func(g *stGrant) { g.gate, g.started = gate, started })
	return gate, started
}

func (g *stGrant) counts() (logins, refreshes, reuses int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.logins, g.refreshes, g.reuses
}

func (g *stGrant) set(f func(g *stGrant)) {
	g.mu.Lock()
	f(g)
	g.mu.Unlock()
}

// stReservingStore adds a Reserver to an stStore whose reservations can
// be refused, as a full or read-only disk would.
type stReservingStore struct {
	*stStore
	reserveErr error
	reserved   int // reservations made
	committed  int
}

func (r *stReservingStore) Reserve(ctx context.Context, key string, size int) (storage.Reservation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reserveErr != nil {
		return nil, r.reserveErr
	}
	r.reserved++
	return &stReservation{r: r, key: key}, nil
}

func (r *stReservingStore) setReserveErr(err error) {
	r.mu.Lock()
	r.reserveErr = err
	r.mu.Unlock()
}

type stReservation struct {
	r    *stReservingStore
	key  string
	done bool
}

func (res *stReservation) Commit(ctx context.Context, value []byte) error {
	if res.done {
		return errors.New("reservation already used")
	}
	res.done = true
	res.r.mu.Lock()
	res.r.committed++
	res.r.mu.Unlock()
	return res.r.Put(ctx, res.key, value)
}

func (res *stReservation) Release() error { res.done = true; return nil }

// stStore is a map Store that can fail Puts and observe them.
type stStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	putErr error
	onPut  func(value []byte)
	puts   int
}

func newSTStore() *stStore { return &stStore{m: map[string][]byte{}} }

func (s *stStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, storage.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (s *stStore) Put(ctx context.Context, key string, value []byte) error {
	s.mu.Lock()
	onPut, err := s.onPut, s.putErr
	s.mu.Unlock()
	if onPut != nil {
		onPut(value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return err
	}
	s.puts++
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *stStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *stStore) token(key string) *Token {
	b, err := s.Get(context.Background(), key)
	if err != nil {
		return nil
	}
	t, err := DecodeToken(b)
	if err != nil {
		return nil
	}
	return t
}

// stLockingStore adds a Locker (one lock for all keys) to an stStore, as
// two processes sharing a file store would see it.
type stLockingStore struct {
	*stStore
	sem chan struct{}
}

func newSTLockingStore(s *stStore) *stLockingStore {
	return &stLockingStore{stStore: s, sem: make(chan struct{}, 1)}
}

func (l *stLockingStore) Lock(ctx context.Context, key string) (func() error, error) {
	select {
	case l.sem <- struct{}{}:
		return func() error { <-l.sem; return nil }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stEvents records events.
type stEvents struct {
	mu sync.Mutex
	ev []Event
}

func (e *stEvents) add(ev Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
}

func (e *stEvents) count(kind EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.ev {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// stRevoker adds RFC 7009 revocation to an stGrant.
type stRevoker struct {
	*stGrant
	rmu     sync.Mutex
	revoked []string // refresh tokens, in order
}

func (r *stRevoker) Revoke(ctx context.Context, tok *Token) error {
	r.rmu.Lock()
	r.revoked = append(r.revoked, tok.RefreshToken)
	r.rmu.Unlock()
	r.set(func(g *stGrant) { g.live[tok.RefreshToken] = false })
	return nil
}

func (r *stRevoker) wasRevoked(rt string) bool {
	r.rmu.Lock()
	defer r.rmu.Unlock()
	return slices.Contains(r.revoked, rt)
}

// all returns a copy of the events so far.
func (e *stEvents) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.ev)
}
