package tokensource

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Every error this package returns has a message that starts with
// "tokensource: " exactly once. Errors are classified with errors.Is and
// errors.As only, never by their text. The helpers below keep the prefix
// single when one of our errors wraps another: a wrapped error of this
// package is rendered without its prefix (its bare message), and the
// outermost error adds it once.

// prefix starts every error message of this package.
const prefix = "tokensource: "

// barer is implemented by this package's error types: bare returns the
// message without the package prefix.
type barer interface {
	error
	bare() string
}

// pkgError is an error of this package built by newError or errorf.
type pkgError struct {
	msg string // without prefix
	err error  // what it wraps, if anything
}

func (e *pkgError) Error() string { return prefix + e.msg }
func (e *pkgError) bare() string  { return e.msg }
func (e *pkgError) Unwrap() error { return e.err }

// newError is errors.New with the package prefix.
func newError(msg string) error { return &pkgError{msg: msg} }

// errorf is fmt.Errorf with the package prefix: %w and %v operands that
// are (or wrap) errors of this package are rendered bare, so the prefix
// appears once.
func errorf(format string, args ...any) error {
	w := fmt.Errorf(format, bareArgs(args)...)
	return &pkgError{msg: w.Error(), err: errors.Unwrap(w)}
}

// bareArgs returns args with every error of this package (or wrapping
// one) in a bareError, which renders without the prefix.
func bareArgs(args []any) []any {
	shown := make([]any, len(args))
	for i, a := range args {
		if e, ok := a.(error); ok && ours(e) {
			a = bareError{e}
		}
		shown[i] = a
	}
	return shown
}

// errorfJoin is errorf for formats with more than one %w: the result
// unwraps to every one of them.
func errorfJoin(format string, args ...any) error {
	w := fmt.Errorf(format, bareArgs(args)...)
	return &multiError{pkgError{msg: w.Error()}, w}
}

type multiError struct {
	pkgError
	w error
}

func (e *multiError) Unwrap() []error {
	if u, ok := e.w.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	return []error{errors.Unwrap(e.w)}
}

// bareError renders an error of this package without its prefix when it
// is wrapped by another; it unwraps to the error itself.
type bareError struct{ e error }

func (b bareError) Error() string { return bareMessage(b.e) }
func (b bareError) Unwrap() error { return b.e }

// bareMessage is err's message without the package prefix when err is an
// error of this package, or wraps one at the start of its message (a
// Grant's fmt.Errorf("%w: detail", ErrReauthRequired)); else its message.
func bareMessage(err error) string {
	if b, ok := err.(barer); ok {
		return b.bare()
	}
	if ours(err) {
		return strings.TrimPrefix(err.Error(), prefix)
	}
	return err.Error()
}

// ours reports whether err, or an error it wraps, is one of this package's
// (so its message already carries the prefix).
func ours(err error) bool {
	var b barer
	return errors.As(err, &b)
}

// withOp adds "tokensource: op: " to a Grant's error, unless the error
// already comes from this package, so messages never stutter.
func withOp(op string, err error) error {
	if ours(err) {
		return err
	}
	return errorf("%s: %w", op, err)
}

// ErrReauthRequired means the session cannot be continued without fresh
// credentials: the refresh token is missing, expired, rejected or spent, and
// logging in again failed or was impossible. Test with errors.Is.
var ErrReauthRequired = newError("re-authentication required")

// ErrNoRefreshToken is returned by a Grant's Refresh when called without a
// refresh token. It satisfies errors.Is(err, ErrReauthRequired).
var ErrNoRefreshToken = errorf("%w: no refresh token", ErrReauthRequired)

// ErrRefreshOutcomeUnknown means a refresh request may have reached the
// server but no usable answer came back: the connection was reset or timed
// out after the request was written, the server answered 500, 502 or 504, a
// redirect, or a body that could not be read. The server may have rotated
// the refresh token, so it is never sent again automatically (except once
// inside a grant's reuse grace period, see [ReuseGracer]). It satisfies
// errors.Is(err, ErrReauthRequired): the session continues by logging in.
var ErrRefreshOutcomeUnknown = errorf("%w: refresh outcome unknown, the server may have used the refresh token", ErrReauthRequired)

// ErrStoreUnwritable means the Store showed, before a refresh token was
// sent, that it could not save the answer: a full disk, a read-only file
// system, missing permission. The refresh was not sent, so the session on
// the server is untouched and continues, with no new login, once the store
// can be written again. The error also wraps the store's own error
// (storage.ErrNoSpace, storage.ErrReadOnly, fs.ErrPermission, ...).
var ErrStoreUnwritable = newError("the store cannot save a new token, so the refresh was not sent")

// NewerSessionError reports a stored session written by a newer version of
// this program, in a format this one cannot read. It is never overwritten,
// not even by [Source.Login]: upgrade, or delete it with [Source.Logout].
// Err wraps storage.ErrNewerFormat and says which version was found.
type NewerSessionError struct {
	Key string // the store key
	Err error  // the store's or the decoder's error
}

func (e *NewerSessionError) Error() string { return prefix + e.bare() }

func (e *NewerSessionError) bare() string {
	return fmt.Sprintf("the session stored under %q was written by a newer version of this program and is left untouched (upgrade, or log out to delete it): %v", e.Key, bareMessage(e.Err))
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

func (e *TokenError) Error() string { return prefix + e.bare() }

func (e *TokenError) bare() string {
	var b strings.Builder
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
		parts = append(parts, bareMessage(e.Err))
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

// OutageError is returned at once, without contacting the server, while
// the token endpoint is known to be failing and no valid token is at hand:
// a shared refresh failed with no answer, 429 or a 5xx, after its retries.
// One probe at a time keeps trying in the background (capped, jittered
// backoff, at most 10 calls a minute); the first success ends the outage.
// Err is the last failure.
type OutageError struct {
	Err   error
	Since time.Time // when the outage was first seen
	Next  time.Time // when the next attempt is due
}

func (e *OutageError) Error() string { return prefix + e.bare() }

func (e *OutageError) bare() string {
	return "the token endpoint is failing (next attempt at " + e.Next.Format(time.RFC3339) + "): " + bareMessage(e.Err)
}

// Unwrap returns Err.
func (e *OutageError) Unwrap() error { return e.Err }
