package tokensource

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Token is an access token and, optionally, the refresh token that renews
// it.
//
// A Token returned by a [Source] is shared by every caller and must be
// treated as read-only. Its String, GoString, Format, LogValue and
// MarshalJSON methods redact both tokens, so printing or logging a Token
// (with any fmt verb, slog or encoding/json) never reveals a secret. Use
// [EncodeToken] to serialize a Token with its secrets.
type Token struct {
	// AccessToken authorizes requests.
	AccessToken string
	// TokenType is the scheme for the Authorization header as the server
	// sent it. Empty or any case of "bearer" means "Bearer".
	TokenType string
	// RefreshToken renews the access token. Empty means the token cannot be
	// refreshed, only replaced by logging in again.
	RefreshToken string
	// IDToken is the OpenID Connect id_token the server sent beside the
	// tokens (when the login asked for the "openid" scope), kept as
	// received for callers that want the user's identity. It is never
	// sent as a bearer token, and nothing in this module validates it:
	// verify its signature, issuer, audience and expiry (with an OpenID
	// Connect library) before trusting a claim in it. Empty when the
	// server sent none; a refresh answer without one leaves it empty.
	IDToken string
	// Expiry is when the access token expires. The zero value means
	// unknown: the token is used until a server rejects it.
	Expiry time.Time
	// RefreshExpiry is when the refresh token expires. The zero value
	// means unknown.
	RefreshExpiry time.Time
	// IssuedAt is when the token was received. A [Source] fills it in when
	// it is zero; with Expiry it gives the token's lifetime, which scales
	// the early-refresh margin.
	IssuedAt time.Time
	// ClockSkew is the authorization server's clock minus ours when the
	// token was received, measured from the Date header of the response
	// and rounded to whole seconds; zero when unknown. Absolute expiries
	// are read against the server's clock, so a skewed server still yields
	// tokens of the right lifetime.
	ClockSkew time.Duration

	// fate is what is known about the refresh token's use; it travels
	// through the Store so that every process sharing it knows.
	fate fate
	// identity names the Grant identity the token was stored for (see
	// [Identifier]); empty when unknown.
	identity string

	// authz caches the Authorization header value. It is filled in by
	// prepare before a Source publishes the token, so reading it needs no
	// lock.
	authz string
}

// Type returns the Authorization scheme for t: "Bearer" when TokenType is
// empty or any case of "bearer", else TokenType as given.
func (t *Token) Type() string {
	if t.TokenType == "" || strings.EqualFold(t.TokenType, "bearer") {
		return "Bearer"
	}
	return t.TokenType
}

// AuthorizationValue returns the value of the Authorization header that
// carries t, such as "Bearer abc". For tokens handed out by a [Source] it is
// computed once and costs nothing to read.
func (t *Token) AuthorizationValue() string {
	if t.authz != "" {
		return t.authz
	}
	return t.Type() + " " + t.AccessToken
}

// prepare fills in the cached Authorization value. It must be called before
// t is shared between goroutines.
func (t *Token) prepare() *Token {
	t.authz = t.Type() + " " + t.AccessToken
	return t
}

// ExpiredAt reports whether the access token is expired at now. A token
// with a zero Expiry never expires by the clock.
func (t *Token) ExpiredAt(now time.Time) bool {
	return !t.Expiry.IsZero() && !now.Before(t.Expiry)
}

// RefreshExpiredAt reports whether the refresh token is missing or expired
// at now. A zero RefreshExpiry never expires by the clock.
func (t *Token) RefreshExpiredAt(now time.Time) bool {
	if t.RefreshToken == "" {
		return true
	}
	return !t.RefreshExpiry.IsZero() && !now.Before(t.RefreshExpiry)
}

// fate records what happened to a refresh token beyond its expiry.
type fate struct {
	// sentAt is when the refresh token was sent in a refresh whose answer
	// was never saved; zero when it was not. The server may have rotated
	// it, so it is not sent again (see [ReuseGracer] for the exception).
	sentAt time.Time
	// resent reports that the one re-send inside a reuse grace period was
	// used.
	resent bool
	// rejected reports that a server refused the refresh token.
	rejected bool
}

// RefreshRejected reports whether a server rejected t's refresh token, as
// recorded by a [Source] in its Store. Such a token is never sent again;
// the session continues only by logging in.
func (t *Token) RefreshRejected() bool { return t.fate.rejected }

// RefreshPending reports whether t's refresh token was sent in a refresh
// whose answer was never saved (the process died, or the server's answer
// was lost), and when. The server may have used it, so a [Source] logs in
// instead of sending it again.
func (t *Token) RefreshPending() (sentAt time.Time, pending bool) {
	return t.fate.sentAt, !t.fate.sentAt.IsZero()
}

// RefreshUsable reports whether t's refresh token may be sent at now:
// present, not expired, not rejected and not possibly spent already.
func (t *Token) RefreshUsable(now time.Time) bool {
	return !t.RefreshExpiredAt(now) && !t.fate.rejected && t.fate.sentAt.IsZero()
}

// clone returns a copy of t without the cached header value.
func (t *Token) clone() *Token {
	c := *t
	c.authz = ""
	return &c
}

// String returns a description of t with every token redacted.
func (t Token) String() string {
	var b strings.Builder
	b.WriteString("Token{type=")
	b.WriteString(t.Type())
	b.WriteString(" access=")
	b.WriteString(redacted(t.AccessToken))
	b.WriteString(" refresh=")
	b.WriteString(redacted(t.RefreshToken))
	if t.IDToken != "" {
		b.WriteString(" id_token=<redacted>")
	}
	if !t.Expiry.IsZero() {
		b.WriteString(" expiry=")
		b.WriteString(t.Expiry.UTC().Format(time.RFC3339))
	}
	if !t.RefreshExpiry.IsZero() {
		b.WriteString(" refresh_expiry=")
		b.WriteString(t.RefreshExpiry.UTC().Format(time.RFC3339))
	}
	b.WriteString("}")
	return b.String()
}

// GoString implements [fmt.GoStringer] so that %#v redacts too.
func (t Token) GoString() string { return "tokensource." + t.String() }

// Format implements [fmt.Formatter]: every verb prints the redacted form,
// so not even %d or %x can reach a token's bytes.
func (t Token) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, t.GoString())
		return
	}
	fmt.Fprint(f, t.String())
}

// LogValue implements [slog.LogValuer]: only non-secret fields are logged.
func (t Token) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("type", t.Type()),
		slog.Bool("has_refresh_token", t.RefreshToken != ""),
	}
	if t.IDToken != "" {
		attrs = append(attrs, slog.Bool("has_id_token", true))
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	if !t.RefreshExpiry.IsZero() {
		attrs = append(attrs, slog.Time("refresh_expiry", t.RefreshExpiry))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes t with every token redacted, so a Token nested in a
// logged or serialized structure cannot leak. Use [EncodeToken] to store a
// token.
func (t Token) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%q", t.String()), nil
}

func redacted(s string) string {
	if s == "" {
		return "<none>"
	}
	return "<redacted>"
}
