package authtest

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync/atomic"
)

// Counters is a snapshot of a server's counters ([Server.Counters]), as
// GET /debug/stats answers them.
type Counters struct {
	// Logins counts successful logins (JSON API, password grant, and the
	// exchanges of authorization codes and approved device codes for
	// tokens), including those whose answer was lost
	// ([Server.ProcessThenFail]).
	Logins int64 `json:"logins"`
	// FailedLogins counts logins refused for bad credentials, whatever
	// status [Options].BadCredentialsStatus gives the answer: a wrong
	// password, or an authorization code that is unknown, expired,
	// reused, or presented with a wrong code_verifier or redirect_uri.
	FailedLogins int64 `json:"failed_logins"`
	// LoginRequests counts every login request that reached the credential
	// check: Logins + FailedLogins. Requests answered by an injected
	// failure or redirect, refused as malformed, or by client
	// authentication, are not counted.
	LoginRequests int64 `json:"login_requests"`
	// Refreshes counts successful refreshes, including grace reuses and
	// refreshes whose answer was lost.
	Refreshes int64 `json:"refreshes"`
	// FailedRefreshes counts refreshes refused (reused, expired, unknown or
	// revoked refresh token).
	FailedRefreshes int64 `json:"failed_refreshes"`
	// RefreshRequests counts every refresh request that reached the
	// refresh logic: Refreshes + FailedRefreshes (same exclusions as
	// LoginRequests).
	RefreshRequests int64 `json:"refresh_requests"`
	// ClientCredentials counts tokens issued by the client_credentials
	// grant, including those whose answer was lost. They are not Logins:
	// no user logs in. A client refused by client authentication is an
	// [EventClientRejected], counted nowhere.
	ClientCredentials int64 `json:"client_credentials"`
	// AuthorizationCodes counts codes issued by the authorization
	// endpoint (each approved request).
	AuthorizationCodes int64 `json:"authorization_codes"`
	// DeviceCodes counts device codes issued by the device authorization
	// endpoint.
	DeviceCodes int64 `json:"device_codes"`
	// DevicePolls counts device code polls of the token endpoint, whatever
	// their answer (authorization_pending, slow_down, tokens, ...).
	DevicePolls int64 `json:"device_polls"`
	// Denied counts authorization requests and device codes denied
	// ([Server.DenyAuthorization], [Server.DenyDevice], the verification
	// page).
	Denied int64 `json:"denied"`
	// Reuses counts replays of a spent refresh token outside the grace
	// period: each is a reuse detection that revokes a family.
	Reuses int64 `json:"reuses"`
	// GraceReuses counts spent refresh tokens presented again within
	// [Options].ReuseGrace and answered with a fresh pair.
	GraceReuses int64 `json:"grace_reuses"`
	// MaxPresentations is the largest number of requests that presented
	// one same refresh token to the refresh logic (answers lost by
	// [Server.ProcessThenFail] included). A client that never re-sends a
	// refresh token keeps it at 1. The figure is never lowered, even after
	// the tokens expire.
	MaxPresentations int64 `json:"max_presentations"`
	// Unauthorized counts 401 answers from the protected API (/api/),
	// injected failures excepted.
	Unauthorized int64 `json:"unauthorized"`
	// Forbidden counts 403 answers from the protected API
	// ([ChallengeInsufficientScope]), injected failures excepted.
	Forbidden int64 `json:"forbidden"`
	// Resources counts /api/ requests served with a valid access token.
	Resources int64 `json:"resources"`
	// Revocations counts explicit revocations: logout, /oauth2/revoke,
	// RevokeAccessTokens and RevokeAll (one each call).
	Revocations int64 `json:"revocations"`
	// InjectedFailures counts answers replaced by a [Fault] (FailNext,
	// FailAPI, FailPath and their variants).
	InjectedFailures int64 `json:"injected_failures"`
	// InjectedRedirects counts answers replaced by [Server.RedirectPath].
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

// tally holds the live counters.
type tally struct {
	logins, failedLogins, refreshes, failedRefreshes atomic.Int64
	reuse, unauthorized, forbidden, resources        atomic.Int64
	revocations, injected, redirects, lost, resets   atomic.Int64
	grace, clientCredentials                         atomic.Int64
	authCodes, deviceCodes, devicePolls, denied      atomic.Int64
}

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	logins, failedLogins := s.tally.logins.Load(), s.tally.failedLogins.Load()
	refreshes, failedRefreshes := s.tally.refreshes.Load(), s.tally.failedRefreshes.Load()
	return Counters{
		Logins:             logins,
		FailedLogins:       failedLogins,
		LoginRequests:      logins + failedLogins,
		Refreshes:          refreshes,
		FailedRefreshes:    failedRefreshes,
		RefreshRequests:    refreshes + failedRefreshes,
		ClientCredentials:  s.tally.clientCredentials.Load(),
		AuthorizationCodes: s.tally.authCodes.Load(),
		DeviceCodes:        s.tally.deviceCodes.Load(),
		DevicePolls:        s.tally.devicePolls.Load(),
		Denied:             s.tally.denied.Load(),
		Reuses:             s.tally.reuse.Load(),
		GraceReuses:        s.tally.grace.Load(),
		MaxPresentations:   int64(s.tokens.maxPresentations()),
		Unauthorized:       s.tally.unauthorized.Load(),
		Forbidden:          s.tally.forbidden.Load(),
		Resources:          s.tally.resources.Load(),
		Revocations:        s.tally.revocations.Load(),
		InjectedFailures:   s.tally.injected.Load(),
		InjectedRedirects:  s.tally.redirects.Load(),
		LostReplies:        s.tally.lost.Load(),
		Resets:             s.tally.resets.Load(),
		ActiveFamilies:     int64(s.tokens.activeFamilies(s.now())),
	}
}

// Presentations returns, for every refresh token presented to the refresh
// logic at least once and still stored (until it expires), the number of
// requests that presented it, keyed by [TokenLabel] of the token. The map
// is the caller's.
func (s *Server) Presentations() map[string]int {
	return s.tokens.presentations()
}

// TokenLabel returns a short non-secret label for a token: "rt:" or "at:"
// for a refresh or access token this package issued ("tok:" otherwise) and
// the first 12 hex digits of its SHA-256. Events and [Server.Presentations]
// name tokens by it; it may be logged.
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
