package tokensource

import (
	"errors"
	"fmt"
)

// ErrRedirect is wrapped by the [TokenError] returned when a token endpoint
// answers with a redirect (3xx). Requests that carry credentials (a
// password, a client secret, a refresh token) never follow a redirect: the
// TokenError names the status and the origin (scheme://host[:port]) of the
// target, never its path, query or the body. For a refresh the error also
// matches [ErrRefreshOutcomeUnknown]: a server may redirect after acting on
// the request.
var ErrRedirect = errors.New("tokensource: token endpoint redirected")

// redirectError is the cause of a TokenError for a 3xx answer.
type redirectError struct {
	status int
	origin string // "" when the answer had no usable Location
}

func (e *redirectError) Error() string {
	to := "elsewhere"
	if e.origin != "" {
		to = "to " + e.origin
	}
	return fmt.Sprintf("token endpoint redirected %s; credentials are never sent across a redirect", to)
}

func (e *redirectError) Unwrap() error { return ErrRedirect }

// unknownOutcome is the failure of a refresh whose request may have reached
// the server without a usable answer coming back. It matches
// [ErrRefreshOutcomeUnknown] (and so [ErrReauthRequired]) and its cause.
type unknownOutcome struct {
	cause error // may be nil
}

const unknownMsg = "refresh outcome unknown, the server may have used the refresh token"

func (e *unknownOutcome) Error() string {
	if e.cause == nil {
		return unknownMsg
	}
	return e.cause.Error() + "; " + unknownMsg
}

func (e *unknownOutcome) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrRefreshOutcomeUnknown}
	}
	return []error{e.cause, ErrRefreshOutcomeUnknown}
}
