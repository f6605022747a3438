package tokensource

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/tokenrefresh/tokenrefresh/internal/loopback"
	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
)

// What the interactive grants ([AuthCodeGrant], [DeviceGrant]) share: the
// errors of a login a human ends, and the standard form requests that keep
// the id_token of an answer.

// ErrAccessDenied is matched by the [*AuthorizationError] of a login the
// user or the authorization server refused (error access_denied).
var ErrAccessDenied = newError("access denied")

// ErrAuthorizationExpired is matched by the [*AuthorizationError] of a
// device login whose code expired before the user approved it (error
// expired_token, or its expires_in passed).
var ErrAuthorizationExpired = newError("the authorization request expired")

// ErrStateMismatch is returned by [AuthCodeGrant.Login] when the browser's
// redirect carries a state other than the one the login sent: a forged
// redirect, or one left over from another login (RFC 6749 section 10.12).
// The code it carried is not exchanged.
var ErrStateMismatch = newError("the redirect's state does not match this login's; its code was not exchanged")

// AuthorizationError reports an interactive login that the authorization
// server ended without a grant: the error of an [AuthCodeGrant]'s browser
// redirect (RFC 6749 section 4.1.2.1), or the final answer to a
// [DeviceGrant]'s polling (RFC 8628 section 3.5). Test with errors.As, or
// with errors.Is and [ErrAccessDenied] or [ErrAuthorizationExpired].
//
// access_denied and expired_token also match [ErrReauthRequired]: the user
// has to log in again. Other codes (invalid_scope, unauthorized_client,
// ...) are configuration errors and do not.
type AuthorizationError struct {
	// Code is the RFC 6749 or RFC 8628 error code, such as "access_denied"
	// or "expired_token".
	Code string
	// Description is the server's error_description, shortened and
	// stripped of control characters; empty when none was sent.
	Description string
}

func (e *AuthorizationError) Error() string { return prefix + e.bare() }

func (e *AuthorizationError) bare() string {
	var what string
	switch e.Code {
	case "access_denied":
		what = "access denied: the user or the authorization server refused the login"
	case "expired_token":
		what = "the login was not approved in time and its code expired; start again"
	default:
		what = "the authorization server refused the login"
	}
	msg := fmt.Sprintf("login: %s (error %s", what, e.Code)
	if e.Description != "" {
		msg += fmt.Sprintf(", %q", e.Description)
	}
	return msg + ")"
}

// Is matches [ErrAccessDenied] and [ErrAuthorizationExpired] by Code, and
// [ErrReauthRequired] for both.
func (e *AuthorizationError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Code == "access_denied"
	case ErrAuthorizationExpired:
		return e.Code == "expired_token"
	case ErrReauthRequired:
		return e.Code == "access_denied" || e.Code == "expired_token"
	}
	return false
}

// serverText makes a value an authorization server chose fit for a
// terminal or an error message: control characters (terminal escapes
// among them) dropped, at most n bytes.
func serverText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return tokenendpoint.Truncate(strings.TrimSpace(s), n)
}

// standardForm returns the sender of a standard endpoint's form requests
// for one client: what PasswordGrant's form method builds.
func standardForm(id, secret string, style AuthStyle, hc *http.Client, retry RetryPolicy,
	logger *slog.Logger, insecure bool, now func() time.Time) *oauthForm {
	if now == nil {
		now = time.Now
	}
	return &oauthForm{clientID: id, clientSecret: secret, style: style,
		ep: endpointClient(hc, retry, logger, insecure), now: now}
}

// refresh sends the standard refresh_token grant, as PasswordGrant.Refresh
// does.
func (o *oauthForm) refresh(ctx context.Context, tokenURL, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	return o.token(ctx, "refresh", tokenURL, form, refreshToken, refreshToken)
}

// checkEndpoint refuses an endpoint URL a login would send the user or a
// secret to when it is neither https:// nor loopback http:// (unless
// insecure allows any http://). name is the grant's field name.
func checkEndpoint(name, raw string, insecure bool) error {
	if raw == "" {
		return errorf("%s is empty", name)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errorf("%s is not an absolute URL", name)
	}
	if loopback.SecureURL(u) || (insecure && strings.EqualFold(u.Scheme, "http")) {
		return nil
	}
	return errorf("%w: %s %s", ErrInsecureEndpoint, name, u.Scheme+"://"+u.Host)
}
