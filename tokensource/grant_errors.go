package tokensource

import (
	"fmt"

	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
)

// ErrInsecureEndpoint is returned when a token endpoint URL is not https://
// and neither points at a loopback host (a loopback IP address or exactly
// "localhost") nor is explicitly allowed by the grant's AllowInsecureHTTP
// field.
var ErrInsecureEndpoint = newError("token endpoint must use https")

// ErrMalformedResponse is wrapped by the [TokenError] returned when a token
// endpoint answers success with a body that holds no usable access token:
// empty, HTML, invalid JSON or no access token. Odd other fields (an
// expiry that is zero, negative, absurd or not a number, a token_type that
// is not an HTTP auth scheme) never make a response malformed: they are
// normalised, so a refresh token the server issued is never dropped.
var ErrMalformedResponse = newError("malformed token response")

// ErrResponseTooLarge is wrapped by the [TokenError] returned when a token
// endpoint response exceeds 1 MiB. It satisfies
// errors.Is(err, ErrMalformedResponse).
var ErrResponseTooLarge = errorf("%w: response larger than 1 MiB", ErrMalformedResponse)

// ErrRedirect is wrapped by the [TokenError] returned when a token endpoint
// answers with a redirect (3xx). Requests that carry credentials (a
// password, a client secret, a refresh token) never follow a redirect: the
// TokenError names the status and the origin (scheme://host[:port]) of the
// target, never its path, query or the body. For a refresh the error also
// matches [ErrRefreshOutcomeUnknown]: a server may redirect after acting on
// the request.
var ErrRedirect = newError("token endpoint redirected")

// tokenError turns a failure of the internal token-endpoint client into
// the error a grant returns. This and failureCause are the one place where
// its plain data becomes this package's public errors: each Kind maps to
// the sentinel callers test with errors.Is.
func tokenError(op string, f *tokenendpoint.Failure) *TokenError {
	te := &TokenError{Op: op, StatusCode: f.Status, Code: f.Code, Description: f.Description,
		Body: f.Body, Rejected: f.Rejected, Err: failureCause(f)}
	if f.Unknown {
		te.Err = &unknownOutcome{cause: te.Err}
	}
	return te
}

// failureCause is the error a failure's Kind stands for; nil for an answer
// that refused (the TokenError's fields say it all).
func failureCause(f *tokenendpoint.Failure) error {
	switch f.Kind {
	case tokenendpoint.KindMalformed:
		return errorf("%w: %s", ErrMalformedResponse, f.Detail)
	case tokenendpoint.KindTooLarge:
		return ErrResponseTooLarge
	case tokenendpoint.KindRedirect:
		return &redirectError{status: f.Status, origin: f.Detail}
	case tokenendpoint.KindInsecure:
		return errorf("%w: %s", ErrInsecureEndpoint, f.Detail)
	case tokenendpoint.KindBadURL:
		return newError(f.Detail)
	case tokenendpoint.KindUnreadable:
		return errorf("reading response: %w", f.Err)
	}
	return f.Err // transport, context or read error, or nil
}

// redirectError is the cause of a TokenError for a 3xx answer. It matches
// [ErrRedirect].
type redirectError struct {
	status int
	origin string // "" when the answer had no usable Location
}

func (e *redirectError) Error() string { return prefix + e.bare() }

func (e *redirectError) bare() string {
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

func (e *unknownOutcome) Error() string { return prefix + e.bare() }

func (e *unknownOutcome) bare() string {
	if e.cause == nil {
		return unknownMsg
	}
	return bareMessage(e.cause) + "; " + unknownMsg
}

func (e *unknownOutcome) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrRefreshOutcomeUnknown}
	}
	return []error{e.cause, ErrRefreshOutcomeUnknown}
}
