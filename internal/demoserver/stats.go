package demoserver

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync/atomic"
)

// Stats is a snapshot of the server's counters, as answered by
// GET /debug/stats.
type Stats struct {
	// Logins counts successful logins (JSON API and password grant),
	// including those whose answer was lost ([Server.ProcessThenFail]).
	Logins int64 `json:"logins"`
	// FailedLogins counts logins refused for bad credentials (JSON API and
	// password grant), whatever status [Config].BadCredentialsStatus gives
	// the answer.
	FailedLogins int64 `json:"failed_logins"`
	// LoginRequests counts every login request (JSON API and password
	// grant) that reached the credential check: Logins + FailedLogins.
	// Requests answered by an injected failure or redirect, refused as
	// malformed, or by client authentication, are not counted.
	LoginRequests int64 `json:"login_requests"`
	// Refreshes counts successful refreshes, including grace reuses and
	// refreshes whose answer was lost.
	Refreshes int64 `json:"refreshes"`
	// FailedRefreshes counts refreshes refused (reused, expired, unknown or
	// revoked refresh token).
	FailedRefreshes int64 `json:"failed_refreshes"`
	// RefreshRequests counts every refresh request (JSON API and
	// refresh_token grant) that reached the refresh logic: Refreshes +
	// FailedRefreshes. Requests answered by an injected failure or
	// redirect, refused as malformed, or by client authentication, are not
	// counted.
	RefreshRequests int64 `json:"refresh_requests"`
	// ReuseDetections counts spent refresh tokens presented again outside
	// the grace period (each revokes a family).
	ReuseDetections int64 `json:"reuse_detections"`
	// GraceReuses counts spent refresh tokens presented again within
	// [Config].ReuseGrace and answered with a fresh pair.
	GraceReuses int64 `json:"grace_reuses"`
	// MaxPresentations is the largest number of requests that presented
	// one same refresh token to the refresh logic (see RefreshRequests;
	// answers lost by [Server.ProcessThenFail] included). A client that
	// never re-sends a refresh token keeps it at 1. Only tokens this server
	// issued count, and the figure is never lowered, even after the tokens
	// expire.
	MaxPresentations int64 `json:"max_presentations"`
	// Unauthorized counts 401 answers from the protected /api/ resources.
	Unauthorized int64 `json:"unauthorized"`
	// Resources counts /api/ requests served with a valid access token.
	Resources int64 `json:"resources"`
	// Revocations counts explicit revocations: logout, /oauth2/revoke,
	// RevokeAccessTokens and RevokeAll (one each call).
	Revocations int64 `json:"revocations"`
	// InjectedFailures counts responses replaced by [Server.FailNext] or
	// [Server.FailNextWith].
	InjectedFailures int64 `json:"injected_failures"`
	// InjectedRedirects counts responses replaced by [Server.RedirectNext].
	InjectedRedirects int64 `json:"injected_redirects"`
	// LostReplies counts processed login and refresh requests whose answer
	// was replaced by a 504 or a connection reset ([Server.ProcessThenFail]).
	LostReplies int64 `json:"lost_replies"`
	// Resets counts the LostReplies answered by closing the connection
	// without a response ([LostReset]).
	Resets int64 `json:"resets"`
	// ActiveFamilies is the number of token families that are not revoked
	// and whose current refresh token has not expired.
	ActiveFamilies int64 `json:"active_families"`
}

type counters struct {
	logins, failedLogins, refreshes, failedRefreshes atomic.Int64
	reuse, unauthorized, resources, revocations      atomic.Int64
	injected, redirects, lost, resets, grace         atomic.Int64
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (s *Server) Stats() Stats {
	logins, failedLogins := s.stats.logins.Load(), s.stats.failedLogins.Load()
	refreshes, failedRefreshes := s.stats.refreshes.Load(), s.stats.failedRefreshes.Load()
	return Stats{
		Logins:            logins,
		FailedLogins:      failedLogins,
		LoginRequests:     logins + failedLogins,
		Refreshes:         refreshes,
		FailedRefreshes:   failedRefreshes,
		RefreshRequests:   refreshes + failedRefreshes,
		ReuseDetections:   s.stats.reuse.Load(),
		GraceReuses:       s.stats.grace.Load(),
		MaxPresentations:  int64(s.tokens.maxPresentations()),
		Unauthorized:      s.stats.unauthorized.Load(),
		Resources:         s.stats.resources.Load(),
		Revocations:       s.stats.revocations.Load(),
		InjectedFailures:  s.stats.injected.Load(),
		InjectedRedirects: s.stats.redirects.Load(),
		LostReplies:       s.stats.lost.Load(),
		Resets:            s.stats.resets.Load(),
		ActiveFamilies:    int64(s.tokens.activeFamilies(s.now())),
	}
}

// Presentations returns, for every refresh token presented to the refresh
// logic at least once (see [Stats].RefreshRequests) and still stored (until
// it expires), the number of requests that presented it, keyed by
// [TokenLabel] of the token. The map is the caller's. Safe for concurrent
// use.
func (s *Server) Presentations() map[string]int {
	return s.tokens.presentations()
}

// TokenLabel returns a short non-secret label for a token: "rt:" or "at:"
// by its kind ("tok:" otherwise) and the first 12 hex digits of its
// SHA-256. It is the key of [Server.Presentations]; it may be logged.
func TokenLabel(token string) string {
	sum := sha256.Sum256([]byte(token))
	kind := "tok:"
	switch {
	case strings.HasPrefix(token, refreshPrefix):
		kind = "rt:"
	case strings.HasPrefix(token, accessPrefix):
		kind = "at:"
	}
	return kind + hex.EncodeToString(sum[:6])
}

// maxPresentations returns the largest number of presentations of one
// refresh token so far.
func (ts *tokenStore) maxPresentations() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.maxPresented
}

// presentations returns the presentation count of every stored refresh
// token presented at least once, keyed by TokenLabel.
func (ts *tokenStore) presentations() map[string]int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	m := make(map[string]int)
	for tok, e := range ts.refresh {
		if e.presented > 0 {
			m[TokenLabel(tok)] = e.presented
		}
	}
	return m
}
