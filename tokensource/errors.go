package tokensource

import (
	"errors"
	"fmt"
	"strings"
)

// ErrReauthRequired means the session cannot be continued without fresh
// credentials: the refresh token is missing, expired, rejected or spent, and
// logging in again failed or was impossible. Test with errors.Is.
var ErrReauthRequired = errors.New("tokensource: re-authentication required")

// ErrNoRefreshToken is returned by a Grant's Refresh when called without a
// refresh token. It satisfies errors.Is(err, ErrReauthRequired).
var ErrNoRefreshToken = fmt.Errorf("%w: no refresh token", ErrReauthRequired)

// ErrRefreshOutcomeUnknown means a refresh request may have reached the
// server but no usable answer came back: the connection was reset or timed
// out after the request was written, the server answered 500, 502 or 504, a
// redirect, or a body that could not be read. The server may have rotated
// the refresh token, so it is never sent again automatically (except once
// inside a grant's reuse grace period, see [ReuseGracer]). It satisfies
// errors.Is(err, ErrReauthRequired): the session continues by logging in.
var ErrRefreshOutcomeUnknown = fmt.Errorf("%w: refresh outcome unknown, the server may have used the refresh token", ErrReauthRequired)

// ErrStoreUnwritable means the Store showed, before a refresh token was
// sent, that it could not save the answer: a full disk, a read-only file
// system, missing permission. The refresh was not sent, so the session on
// the server is untouched and continues, with no new login, once the store
// can be written again. The error also wraps the store's own error
// (storage.ErrNoSpace, storage.ErrReadOnly, fs.ErrPermission, ...).
var ErrStoreUnwritable = errors.New("tokensource: the store cannot save a new token, so the refresh was not sent")

// NewerSessionError reports a stored session written by a newer version of
// this program, in a format this one cannot read. It is never overwritten,
// not even by [Source.Login]: upgrade, or delete it with [Source.Logout].
// Err wraps storage.ErrNewerFormat and says which version was found.
type NewerSessionError struct {
	Key string // the store key
	Err error  // the store's or the decoder's error
}

func (e *NewerSessionError) Error() string {
	return fmt.Sprintf("tokensource: the session stored under %q was written by a newer version of this program and is left untouched (upgrade, or log out to delete it): %v", e.Key, e.Err)
}

// Unwrap returns Err.
func (e *NewerSessionError) Unwrap() error { return e.Err }

// TokenError reports a failed call to a token endpoint. Test with errors.As.
//
// Its message never contains a token or a client secret: Body is a short
// excerpt of the response with token-looking values removed.
type TokenError struct {
	// Op is the call that failed: "login", "refresh" or "revoke".
	Op string
	// StatusCode is the HTTP status of the response, or 0 when no response
	// was received.
	StatusCode int
	// Code is the RFC 6749 "error" value, such as "invalid_grant", when the
	// server sent one.
	Code string
	// Description is the server's "error_description", if any.
	Description string
	// Body is a truncated, redacted excerpt of the response body.
	Body string
	// Rejected reports that the server rejected the credentials or the
	// refresh token (for example invalid_grant): retrying the same request
	// cannot succeed. A rejected TokenError satisfies
	// errors.Is(err, ErrReauthRequired).
	Rejected bool
	// Err is the underlying cause, if any (a transport error, a malformed
	// response).
	Err error
}

func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("tokensource: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	parts := make([]string, 0, 4)
	if e.StatusCode != 0 {
		parts = append(parts, fmt.Sprintf("status %d", e.StatusCode))
	}
	if e.Code != "" {
		parts = append(parts, "error "+e.Code)
	}
	if e.Description != "" {
		parts = append(parts, fmt.Sprintf("%q", e.Description))
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	if e.Body != "" && e.Code == "" {
		parts = append(parts, fmt.Sprintf("body %q", e.Body))
	}
	if len(parts) == 0 {
		parts = append(parts, "token endpoint error")
	}
	b.WriteString(strings.Join(parts, ", "))
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *TokenError) Unwrap() error { return e.Err }

// Is reports whether a rejected TokenError matches ErrReauthRequired.
func (e *TokenError) Is(target error) bool {
	return target == ErrReauthRequired && e.Rejected
}
