package tokensource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Device flow timing (RFC 8628 sections 3.2 and 3.5).
const (
	// defaultDeviceInterval is the polling interval when the server names
	// none.
	defaultDeviceInterval = 5 * time.Second
	// slowDownStep is added to the interval on each slow_down.
	slowDownStep = 5 * time.Second
)

// deviceGrantType is the grant_type of the device code poll.
const deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceGrant logs a user in on another device: the device authorization
// grant of RFC 8628, for a program with no browser at hand (over SSH, in a
// container). Login asks DeviceAuthorizationURL for a device code, shows
// the user where to go and which code to enter (Prompt, OnCode), then
// polls TokenURL until the user has approved: at the server's interval (5
// seconds when it names none), 5 seconds slower after each slow_down, on
// through authorization_pending. It stops with an [*AuthorizationError]
// on access_denied ([ErrAccessDenied]) and on expired_token or when the
// code's expires_in has passed ([ErrAuthorizationExpired]), and at once
// when ctx is done.
//
// Requests are sent as [PasswordGrant] sends its own (at most once unless
// they provably did not reach the server; errors as [*TokenError], never
// showing the device code, a token or the client secret). Refresh is the
// standard refresh_token grant and Revoke is RFC 7009. An id_token in an
// answer is kept in Token.IDToken.
//
// Login needs a human, so DeviceGrant is [Interactive]: a [Source] never
// runs it by itself; call [Source.Login].
//
// A DeviceGrant is safe for concurrent use as long as its fields are not
// changed.
type DeviceGrant struct {
	// DeviceAuthorizationURL is the device authorization endpoint
	// ([Metadata].DeviceAuthorizationEndpoint). It and TokenURL must be
	// https:// unless loopback or AllowInsecureHTTP is set.
	DeviceAuthorizationURL string
	// TokenURL is the token endpoint ([Metadata].TokenEndpoint).
	TokenURL string
	// RevokeURL is the RFC 7009 revocation endpoint
	// ([Metadata].RevocationEndpoint). Empty makes Revoke a no-op.
	RevokeURL string
	// ClientID identifies the client; required. ClientSecret is optional:
	// empty means a public client.
	ClientID, ClientSecret string
	// Scopes are requested at login. Nil requests the server's default.
	Scopes []string
	// AuthStyle selects client authentication when ClientSecret is set;
	// the zero value is [AuthBasic].
	AuthStyle AuthStyle
	// Prompt, when set, receives what the user needs, one item per line:
	// the verification URI, the user code and, when the server sent one,
	// the URI that carries the code. A CLI passes os.Stderr. Nil prints
	// nothing.
	Prompt io.Writer
	// OnCode, when set, is called with the same, before the first poll:
	// to show it another way (a QR code, a dialog), or, in a test, to
	// approve the code. It must not block.
	OnCode func(DeviceCode)
	// HTTPClient makes each attempt, as for [PasswordGrant]. Nil means a
	// client on http.DefaultTransport with a 30s timeout per attempt.
	HTTPClient *http.Client
	// Retry bounds re-sending requests that provably did not reach the
	// server; the zero value is a sensible default.
	Retry RetryPolicy
	// ReuseGrace is the server's documented reuse grace period for a
	// rotated refresh token, as for [PasswordGrant]. Zero means none.
	ReuseGrace time.Duration
	// AllowInsecureHTTP permits http:// endpoints on non-loopback hosts.
	AllowInsecureHTTP bool
	// Now is the clock that turns expires_in into expiry times, the device
	// code's included. Nil means time.Now.
	Now func() time.Time
	// Logger receives debug records about retries and polling. Nil means
	// silent.
	Logger *slog.Logger

	// sleep waits d between polls, or less when ctx is done (it then
	// returns ctx.Err()). Nil means a timer; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// DeviceCode is what the user of a [DeviceGrant] login needs. It holds no
// secret the user is not meant to see: the device code itself stays in
// the grant.
type DeviceCode struct {
	// VerificationURI is where the user goes, on any device with a
	// browser.
	VerificationURI string
	// UserCode is what the user enters there.
	UserCode string
	// VerificationURIComplete, when the server sent one, is a URI that
	// carries the user code (for a link or a QR code).
	VerificationURIComplete string
	// Expiry is when the code expires; zero when the server did not say.
	Expiry time.Time
	// Interval is the polling interval the server asked for.
	Interval time.Duration
}

var (
	_ Grant       = (*DeviceGrant)(nil)
	_ Revoker     = (*DeviceGrant)(nil)
	_ Identifier  = (*DeviceGrant)(nil)
	_ ReuseGracer = (*DeviceGrant)(nil)
	_ Interactive = (*DeviceGrant)(nil)
)

// Interactive reports true: Login needs a human on another device.
func (g *DeviceGrant) Interactive() bool { return true }

// RefreshReuseGrace returns ReuseGrace. It implements [ReuseGracer].
func (g *DeviceGrant) RefreshReuseGrace() time.Duration { return g.ReuseGrace }

// Identity implements [Identifier]: the token endpoint's origin and the
// client. The user is not known before the login.
func (g *DeviceGrant) Identity() string {
	return fmt.Sprintf("%s client=%s", origin(g.TokenURL), g.ClientID)
}

func (g *DeviceGrant) form() *oauthForm {
	return standardForm(g.ClientID, g.ClientSecret, g.AuthStyle, g.HTTPClient, g.Retry, g.Logger, g.AllowInsecureHTTP, g.Now)
}

func (g *DeviceGrant) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

func (g *DeviceGrant) wait(ctx context.Context, d time.Duration) error {
	if g.sleep != nil {
		return g.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Login runs the device flow: see [DeviceGrant]. It returns when the user
// has approved (with the token), when the server ends the flow, or when
// ctx is done.
func (g *DeviceGrant) Login(ctx context.Context) (*Token, error) {
	if g.ClientID == "" {
		return nil, newError("login: DeviceGrant.ClientID is empty")
	}
	for _, ep := range [][2]string{{"DeviceGrant.DeviceAuthorizationURL", g.DeviceAuthorizationURL}, {"DeviceGrant.TokenURL", g.TokenURL}} {
		if err := checkEndpoint(ep[0], ep[1], g.AllowInsecureHTTP); err != nil {
			return nil, errorf("login: %w", err)
		}
	}
	o := g.form()
	da, err := g.authorize(ctx, o)
	if err != nil {
		return nil, err
	}
	g.show(da.DeviceCode)
	return g.poll(ctx, o, da)
}

// show hands the code to OnCode and writes it to Prompt.
func (g *DeviceGrant) show(c DeviceCode) {
	if g.OnCode != nil {
		g.OnCode(c)
	}
	if g.Prompt == nil {
		return
	}
	fmt.Fprintf(g.Prompt, "To log in, visit: %s\nand enter the code: %s\n", c.VerificationURI, c.UserCode)
	if c.VerificationURIComplete != "" {
		fmt.Fprintf(g.Prompt, "or visit: %s\n", c.VerificationURIComplete)
	}
}

// poll asks the token endpoint until the flow ends (RFC 8628 section
// 3.4), waiting the interval before each request.
func (g *DeviceGrant) poll(ctx context.Context, o *oauthForm, da *deviceAuthorization) (*Token, error) {
	interval := da.Interval
	form := url.Values{"grant_type": {deviceGrantType}, "device_code": {da.deviceCode}}
	for {
		if err := g.wait(ctx, interval); err != nil {
			return nil, errorf("login: waiting for the user to approve the device code: %w", err)
		}
		if !da.Expiry.IsZero() && !g.now().Before(da.Expiry) {
			return nil, &AuthorizationError{Code: "expired_token", Description: "the device code's lifetime passed"}
		}
		tok, err := o.token(ctx, "login", g.TokenURL, form, "", da.deviceCode)
		var te *TokenError
		if err == nil || !errors.As(err, &te) {
			return tok, err
		}
		switch te.Code {
		case "authorization_pending":
			continue
		case "slow_down":
			interval += slowDownStep
			if g.Logger != nil {
				g.Logger.LogAttrs(ctx, slog.LevelDebug, "tokensource: device flow: slow_down", slog.Duration("interval", interval))
			}
			continue
		case "access_denied", "expired_token":
			return nil, &AuthorizationError{Code: te.Code, Description: te.Description}
		}
		return tok, err
	}
}

// Refresh requests a token with grant_type=refresh_token, as
// [PasswordGrant.Refresh] does.
func (g *DeviceGrant) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	return g.form().refresh(ctx, g.TokenURL, refreshToken)
}

// Revoke revokes tok's refresh token (or, without one, its access token)
// at RevokeURL as RFC 7009 describes. It does nothing when RevokeURL is
// empty or tok is nil.
func (g *DeviceGrant) Revoke(ctx context.Context, tok *Token) error {
	if g.RevokeURL == "" || tok == nil {
		return nil
	}
	return g.form().revoke(ctx, g.RevokeURL, tok)
}

func (g DeviceGrant) view() view {
	v := view{typ: "DeviceGrant"}
	v.add("device_authorization_url", g.DeviceAuthorizationURL)
	v.add("token_url", g.TokenURL)
	v.add("revoke_url", g.RevokeURL)
	v.add("client_id", g.ClientID)
	v.secret("client_secret", g.ClientSecret != "")
	v.add("scopes", strings.Join(g.Scopes, " "))
	return v
}

// String describes g without its client secret.
func (g DeviceGrant) String() string { return g.view().String() }

// GoString implements [fmt.GoStringer] so that %#v redacts too.
func (g DeviceGrant) GoString() string { return "tokensource." + g.String() }

// Format implements [fmt.Formatter]: every verb prints the redacted form.
func (g DeviceGrant) Format(f fmt.State, verb rune) { g.view().format(f, verb) }

// LogValue implements [slog.LogValuer]: only non-secret fields are logged.
func (g DeviceGrant) LogValue() slog.Value { return g.view().logValue() }

// MarshalJSON encodes the non-secret fields only.
func (g DeviceGrant) MarshalJSON() ([]byte, error) { return g.view().marshalJSON() }
