package authtest

import (
	"crypto/rand"
	"sync"
	"time"
)

// Prefixes that make issued tokens recognizable (and distinguishable) in
// test failures; the rest is 128 random bits.
const (
	accessPrefix  = "at_"
	refreshPrefix = "rt_"
)

// Refusal reasons for a refresh token, sent as error_description.
const (
	reasonReused  = "refresh token reused"
	reasonExpired = "refresh token expired"
	reasonUnknown = "unknown refresh token"
	reasonRevoked = "refresh token revoked"
)

// minSweep is the least number of issues between two sweeps of expired
// tokens.
const minSweep = 64

// family is the chain of tokens descending from one login.
type family struct {
	id      uint64
	user    string
	revoked bool
	// refreshExpiry is the expiry of the family's current (unspent) refresh
	// token.
	refreshExpiry time.Time
}

type accessEntry struct {
	fam     *family
	expiry  time.Time
	revoked bool
}

type refreshEntry struct {
	fam    *family
	expiry time.Time
	spent  bool
	// spentAt is when the token was rotated away (set with spent).
	spentAt time.Time
	// presented counts the refresh requests that presented this token.
	presented int
}

// pair is what a login or refresh issued.
type pair struct {
	access, refresh string // refresh is "" when not rotated
	user            string
	family          uint64
	issued          time.Time // the server-clock time of the issue
}

// tokenStore holds every issued token. Spent refresh tokens are kept until
// they expire so that their reuse is recognised; sweep drops expired entries
// so memory stays proportional to the tokens alive.
type tokenStore struct {
	// grace is the reuse grace period (Options.ReuseGrace); read-only.
	grace time.Duration

	// mu guards all fields below.
	mu         sync.Mutex
	access     map[string]*accessEntry
	refresh    map[string]*refreshEntry
	families   map[uint64]*family
	nextID     uint64
	sinceSweep int
	// maxPresented is the largest presented count any refresh token
	// reached; it survives the sweep of that token.
	maxPresented int
}

func newTokenStore(grace time.Duration) *tokenStore {
	return &tokenStore{
		grace:    grace,
		access:   make(map[string]*accessEntry),
		refresh:  make(map[string]*refreshEntry),
		families: make(map[uint64]*family),
	}
}

func newToken(prefix string) string { return prefix + rand.Text() }

// login starts a family for user and issues its first pair.
func (ts *tokenStore) login(user string, now time.Time, accessTTL, refreshTTL time.Duration) pair {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.nextID++
	fam := &family{id: ts.nextID, user: user}
	ts.families[fam.id] = fam
	return ts.issueLocked(fam, now, accessTTL, refreshTTL, true)
}

// issueLocked issues an access token and, when withRefresh, a new current
// refresh token for fam.
func (ts *tokenStore) issueLocked(fam *family, now time.Time, accessTTL, refreshTTL time.Duration, withRefresh bool) pair {
	ts.sweepMaybeLocked(now)
	p := pair{access: newToken(accessPrefix), user: fam.user, family: fam.id, issued: now}
	ts.access[p.access] = &accessEntry{fam: fam, expiry: now.Add(accessTTL)}
	if withRefresh {
		p.refresh = newToken(refreshPrefix)
		fam.refreshExpiry = now.Add(refreshTTL)
		ts.refresh[p.refresh] = &refreshEntry{fam: fam, expiry: fam.refreshExpiry}
	}
	return p
}

// refreshResult tells why a refresh was refused; reason "" means success.
type refreshResult struct {
	pair   pair
	reason string
	reused bool
	graced bool // a spent token within the grace period was accepted
}

// redeem spends rt and issues a new pair of its family (or, with rotate
// false, only an access token, leaving rt valid). A spent rt revokes the
// family, unless it was spent less than the grace period ago: then it gets a
// fresh pair of its family and nothing is revoked. Every call with a known
// rt counts as one presentation of it.
func (ts *tokenStore) redeem(rt string, now time.Time, accessTTL, refreshTTL time.Duration, rotate bool) refreshResult {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	e, ok := ts.refresh[rt]
	if !ok {
		return refreshResult{reason: reasonUnknown}
	}
	e.presented++
	ts.maxPresented = max(ts.maxPresented, e.presented)
	switch {
	case e.spent && ts.inGraceLocked(e, now):
		return refreshResult{pair: ts.issueLocked(e.fam, now, accessTTL, refreshTTL, true), graced: true}
	case e.spent:
		e.fam.revoked = true
		return refreshResult{reason: reasonReused, reused: true, pair: pair{user: e.fam.user, family: e.fam.id}}
	case e.fam.revoked:
		return refreshResult{reason: reasonRevoked, pair: pair{user: e.fam.user, family: e.fam.id}}
	case !now.Before(e.expiry):
		return refreshResult{reason: reasonExpired, pair: pair{user: e.fam.user, family: e.fam.id}}
	}
	if rotate {
		e.spent, e.spentAt = true, now
	}
	return refreshResult{pair: ts.issueLocked(e.fam, now, accessTTL, refreshTTL, rotate)}
}

// inGraceLocked reports whether the spent entry e may be redeemed again at
// now: rotated away less than the grace period ago, its family not revoked
// and e itself not expired.
func (ts *tokenStore) inGraceLocked(e *refreshEntry, now time.Time) bool {
	return ts.grace > 0 && now.Sub(e.spentAt) < ts.grace && !e.fam.revoked && now.Before(e.expiry)
}

// checkAccess reports the user an access token belongs to, or why it is
// not valid at now.
func (ts *tokenStore) checkAccess(at string, now time.Time) (user, reason string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	e, ok := ts.access[at]
	switch {
	case !ok:
		return "", "unknown access token"
	case e.revoked || e.fam.revoked:
		return "", "access token revoked"
	case !now.Before(e.expiry):
		return "", "access token expired"
	}
	return e.fam.user, ""
}

// revoke revokes tok, an access or refresh token, and reports whether it
// was known. A refresh token always takes its whole family with it (RFC
// 7009); an access token takes its family only when family is set (logout)
// and otherwise only itself.
func (ts *tokenStore) revoke(tok string, family bool) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if e, ok := ts.refresh[tok]; ok {
		e.fam.revoked = true
		return true
	}
	if e, ok := ts.access[tok]; ok {
		if family {
			e.fam.revoked = true
		} else {
			e.revoked = true
		}
		return true
	}
	return false
}

// revokeFamily revokes the family numbered id, if it is stored.
func (ts *tokenStore) revokeFamily(id uint64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if f, ok := ts.families[id]; ok {
		f.revoked = true
	}
}

// revokeAllAccess revokes every access token issued so far.
func (ts *tokenStore) revokeAllAccess() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, e := range ts.access {
		e.revoked = true
	}
}

// revokeAll revokes every family.
func (ts *tokenStore) revokeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, f := range ts.families {
		f.revoked = true
	}
}

// activeFamilies counts families neither revoked nor expired at now.
func (ts *tokenStore) activeFamilies(now time.Time) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, f := range ts.families {
		if !f.revoked && now.Before(f.refreshExpiry) {
			n++
		}
	}
	return n
}

// size returns the number of stored access tokens, refresh tokens and
// families (for tests of the memory bound).
func (ts *tokenStore) size() (access, refresh, families int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.access), len(ts.refresh), len(ts.families)
}

// sweepMaybeLocked sweeps once enough tokens were issued since the last
// sweep: at least minSweep and a quarter of the stored tokens, so the cost
// stays amortized O(1) per issue.
func (ts *tokenStore) sweepMaybeLocked(now time.Time) {
	ts.sinceSweep++
	if ts.sinceSweep < minSweep || ts.sinceSweep < (len(ts.access)+len(ts.refresh))/4 {
		return
	}
	ts.sinceSweep = 0
	ts.sweepLocked(now)
}

// sweepLocked drops expired and unusable tokens and the families left
// without any.
func (ts *tokenStore) sweepLocked(now time.Time) {
	live := make(map[uint64]bool, len(ts.families))
	for k, e := range ts.access {
		if e.revoked || e.fam.revoked || !now.Before(e.expiry) {
			delete(ts.access, k)
			continue
		}
		live[e.fam.id] = true
	}
	for k, e := range ts.refresh {
		if !now.Before(e.expiry) {
			delete(ts.refresh, k)
			continue
		}
		live[e.fam.id] = true
	}
	for id := range ts.families {
		if !live[id] {
			delete(ts.families, id)
		}
	}
}
