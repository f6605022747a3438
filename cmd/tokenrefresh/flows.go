package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// Login flows (--flow, profile.Flow).
const (
	flowPassword          = "password"           // resource-owner password (OAuth2) or the JSON login
	flowBrowser           = "browser"            // authorization code + PKCE through a browser
	flowDevice            = "device"             // RFC 8628 device authorization
	flowClientCredentials = "client-credentials" // RFC 6749 section 4.4, no user
	// flowRefreshToken is a session started from a refresh token read
	// from stdin, with no flow to log in again by: when the refresh token
	// dies, the user starts a new one.
	flowRefreshToken = "refresh-token"
)

// flowNames are the values of --flow.
var flowNames = []string{flowPassword, flowBrowser, flowDevice, flowClientCredentials}

// browserLoginTimeout bounds the wait for the browser to come back when no
// --timeout is given: a user who walked away does not leave a listener
// open for ever.
const browserLoginTimeout = 10 * time.Minute

// interactive reports whether the flow needs a human at login, so that it
// never runs in the background and, when the session dies, runs again only
// in a command's own flow on a terminal.
func interactive(flow string) bool {
	return flow == flowBrowser || flow == flowDevice
}

// Metadata names of the endpoints a flow needs (RFC 8414), and the flag
// that gives each one explicitly.
var endpointFlags = map[string]string{
	"token_endpoint":                "--token-url",
	"authorization_endpoint":        "--authorization-url",
	"device_authorization_endpoint": "--device-authorization-url",
}

// neededEndpoints returns the metadata names of the endpoints flow needs.
func neededEndpoints(flow string) []string {
	switch flow {
	case flowBrowser:
		return []string{"authorization_endpoint", "token_endpoint"}
	case flowDevice:
		return []string{"device_authorization_endpoint", "token_endpoint"}
	}
	return []string{"token_endpoint"}
}

// endpoint returns the profile's URL for a metadata name.
func (p *profile) endpoint(field string) string {
	switch field {
	case "token_endpoint":
		return p.TokenURL
	case "authorization_endpoint":
		return p.AuthorizationURL
	case "device_authorization_endpoint":
		return p.DeviceAuthorizationURL
	}
	return ""
}

// missingEndpoint returns the metadata name of the first endpoint p's flow
// needs and p lacks, or "". JSON profiles are checked elsewhere.
func (p *profile) missingEndpoint() string {
	if p.Mode != modeOAuth2 {
		return ""
	}
	for _, f := range neededEndpoints(p.flow()) {
		if p.endpoint(f) == "" {
			return f
		}
	}
	return ""
}

// adopt fills p's empty endpoints from the server's metadata: an explicit
// URL flag wins over a discovered one.
func (p *profile) adopt(meta *tokensource.Metadata) {
	p.Issuer = meta.Issuer
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&p.TokenURL, meta.TokenEndpoint)
	fill(&p.RevokeURL, meta.RevocationEndpoint)
	fill(&p.AuthorizationURL, meta.AuthorizationEndpoint)
	fill(&p.DeviceAuthorizationURL, meta.DeviceAuthorizationEndpoint)
}

// discover fetches the metadata of issuer (RFC 8414, then OpenID Connect
// Discovery), announcing the wait on a terminal after a second.
func (e *env) discover(ctx context.Context, issuer string) (*tokensource.Metadata, error) {
	stop := e.waitNotice("discovering the endpoints of " + issuer + "…")
	defer stop()
	d := &tokensource.Discoverer{TTL: -1, Logger: e.logger()}
	meta, err := d.Discover(ctx, issuer)
	if err != nil {
		return nil, err
	}
	return meta, nil
}

// requireEndpoints checks that p has every endpoint its flow needs. A
// missing one is named: as the metadata's *MissingEndpointError when the
// endpoints were discovered, else as the flag that gives it.
func requireEndpoints(p *profile, meta *tokensource.Metadata) error {
	field := p.missingEndpoint()
	if field == "" {
		return nil
	}
	if meta != nil {
		return fmt.Errorf("the %s flow: %w; give it with %s, or choose another --flow",
			p.flow(), meta.Require(field), endpointFlags[field])
	}
	return usageErr("the %s flow needs %s (or --issuer to discover it)", p.flow(), endpointFlags[field])
}

// browserUsable reports whether a browser login can be offered by default:
// the system has a way to open a browser, and either BROWSER names one or a
// human is at the terminal to see it.
func (e *env) browserUsable() bool {
	if e.getenv("BROWSER") != "" {
		return true
	}
	return e.browserAvailable() && e.isTerminal(e.stdin) && e.isTerminal(e.stderr)
}

// defaultFlow chooses the flow when --flow is not given: password with a
// user name, else a browser login when a browser can be opened, else a
// device login; of those two, the first whose endpoint is known (a
// refresh token from stdin needs neither, and without one the session has
// no flow to log in again by; without an issuer either, it is the password
// flow, which then asks for --username).
func (e *env) defaultFlow(p *profile, seeding bool) string {
	if p.Username != "" || p.Mode == modeJSON {
		return flowPassword
	}
	var candidates []string
	if e.browserUsable() {
		candidates = append(candidates, flowBrowser)
	}
	candidates = append(candidates, flowDevice)
	for _, f := range candidates {
		if p.endpoint(neededEndpoints(f)[0]) != "" {
			return f
		}
	}
	switch {
	case seeding:
		return flowRefreshToken
	case p.Issuer == "":
		// Neither endpoint given: the password flow, which asks for
		// --username.
		return flowPassword
	}
	// The server advertises neither: the flow the user would get, so the
	// error names the endpoint it lacks.
	return candidates[0]
}

// newOAuth2Grant builds the grant of an OAuth2 profile's flow. password
// and pw serve the password flow (see newGrant).
func (e *env) newOAuth2Grant(p *profile, password string, pw func(context.Context) (string, error)) (tokensource.Grant, error) {
	secret, err := e.clientSecret(p)
	if err != nil {
		return nil, err
	}
	style := tokensource.AuthBasic
	if p.AuthStyle == authStyleForm {
		style = tokensource.AuthForm
	}
	switch p.flow() {
	case flowBrowser:
		var params url.Values
		if p.Username != "" {
			params = url.Values{"login_hint": {p.Username}}
		}
		return &tokensource.AuthCodeGrant{
			AuthorizationURL: p.AuthorizationURL, TokenURL: p.TokenURL, RevokeURL: p.RevokeURL,
			ClientID: p.ClientID, ClientSecret: secret, Scopes: p.Scopes, AuthStyle: style,
			AuthParams: params, RedirectPort: p.RedirectPort, NoBrowser: p.NoBrowser,
			OpenBrowser: e.openBrowser, Prompt: e.stderr, Now: e.now, Logger: e.logger(),
		}, nil
	case flowDevice:
		return &tokensource.DeviceGrant{
			DeviceAuthorizationURL: p.DeviceAuthorizationURL, TokenURL: p.TokenURL, RevokeURL: p.RevokeURL,
			ClientID: p.ClientID, ClientSecret: secret, Scopes: p.Scopes, AuthStyle: style,
			Prompt: e.stderr, Now: e.now, Logger: e.logger(),
		}, nil
	case flowClientCredentials:
		if secret == "" {
			return nil, errors.New("the client-credentials flow needs the client secret: set TOKENREFRESH_CLIENT_SECRET or log in with --client-secret-file")
		}
		return &tokensource.ClientCredentialsGrant{
			TokenURL: p.TokenURL, RevokeURL: p.RevokeURL, ClientID: p.ClientID, ClientSecret: secret,
			Scopes: p.Scopes, AuthStyle: style, Now: e.now, Logger: e.logger(),
		}, nil
	}
	// The password flow, and a seeded session's refreshes (no user: its
	// Login fails with ErrNoCredentials, so it never logs in).
	return &tokensource.PasswordGrant{
		AuthStyle: style, TokenURL: p.TokenURL, RevokeURL: p.RevokeURL,
		ClientID: p.ClientID, ClientSecret: secret, Scopes: p.Scopes,
		Username: p.Username, Password: password, PasswordFunc: pw, Now: e.now,
	}, nil
}

// describeFlow names a flow for people: "a browser login".
func describeFlow(flow string) string {
	switch flow {
	case flowBrowser:
		return "a browser login"
	case flowDevice:
		return "a device login"
	case flowClientCredentials:
		return "the client credentials"
	case flowRefreshToken:
		return "a refresh token from stdin"
	}
	return "a password"
}

// foregroundLogin runs the login of an interactive or client-credentials
// flow on ctx, in the command's own flow. A browser login waits at most
// browserLoginTimeout for the browser to come back.
func (e *env) foregroundLogin(ctx context.Context, flow string, login func(context.Context) error) error {
	if flow != flowBrowser {
		return login(ctx)
	}
	bctx, cancel := context.WithTimeoutCause(ctx, browserLoginTimeout, errBrowserTimeout)
	defer cancel()
	err := login(bctx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(bctx), errBrowserTimeout) {
		return fmt.Errorf("no browser login within %s: %w", browserLoginTimeout, err)
	}
	return err
}

// errBrowserTimeout is the cause of a browser login's context that
// browserLoginTimeout ended.
var errBrowserTimeout = errors.New("browser login timed out")
