package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// resolve merges the flags with the saved profile, if any: the server's
// endpoints (discovered from the issuer where the flags leave them out),
// the flow and the user.
func (o *loginOptions) resolve(ctx context.Context, dir string) (*profile, error) {
	p := o.prof
	switch {
	case p.LoginURL != "":
		p.Mode = modeJSON
	case p.TokenURL != "" || p.Issuer != "" || p.AuthorizationURL != "" || p.DeviceAuthorizationURL != "":
		p.Mode = modeOAuth2
	default:
		saved, err := o.savedProfile(dir)
		if err != nil {
			return nil, err
		}
		p = *saved
	}
	var meta *tokensource.Metadata
	if p.Issuer != "" && (p.Key == "" || p.missingEndpointFor(o.flow) != "") {
		// A new profile, or a saved one whose new --flow needs an
		// endpoint it has not kept.
		var err error
		if meta, err = o.env.discover(ctx, p.Issuer); err != nil {
			return nil, err
		}
		p.adopt(meta)
	}
	switch {
	case o.flow != "":
		p.Flow = o.flow
	case p.Key == "":
		p.Flow = o.env.defaultFlow(&p, o.refreshTokenStdin)
	}
	if p.Mode == modeOAuth2 && o.secretFile != "" {
		abs, err := filepath.Abs(o.secretFile)
		if err != nil {
			return nil, err
		}
		p.ClientSecretFile = abs
	}
	if len(o.apiURLs) > 0 {
		origins, err := checkAPIURLs(o.apiURLs)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		p.APIURLs = origins
	}
	if o.scopes != "" {
		p.Scopes = strings.FieldsFunc(o.scopes, func(r rune) bool { return r == ',' || r == ' ' })
	}
	if p.Store == "" {
		p.Store = "auto"
	}
	if err := o.checkFlow(&p, meta); err != nil {
		return nil, err
	}
	p.Key = storeKey(o.profile, &p)
	return &p, p.validate()
}

// savedProfile loads the profile to log in again with, applying the flags
// that may change it.
func (o *loginOptions) savedProfile(dir string) (*profile, error) {
	saved, err := loadProfile(dir, o.profile)
	if errors.Is(err, errNoProfile) {
		return nil, usageErr("--issuer, --token-url or --login-url is required for a new profile")
	}
	if err != nil {
		return nil, err
	}
	if o.prof.Username != "" {
		saved.Username = o.prof.Username
	}
	if o.prof.Store != "" {
		saved.Store = o.prof.Store
	}
	if o.prof.AuthStyle != "" {
		if saved.Mode != modeOAuth2 {
			return nil, usageErr("--auth-style applies to OAuth2 profiles; profile %q uses %s mode", o.profile, saved.Mode)
		}
		saved.AuthStyle = o.prof.AuthStyle
	}
	if o.flow != "" && o.flow != flowPassword && saved.Mode != modeOAuth2 {
		return nil, usageErr("the %s flow needs an OAuth2 profile; profile %q uses %s mode", o.flow, o.profile, saved.Mode)
	}
	if o.set("no-browser") {
		saved.NoBrowser = o.prof.NoBrowser
	}
	if o.set("redirect-port") {
		saved.RedirectPort = o.prof.RedirectPort
	}
	if o.set("client-id") {
		saved.ClientID = o.prof.ClientID
	}
	return saved, nil
}

// missingEndpointFor is missingEndpoint for the given flow ("" keeps p's).
func (p *profile) missingEndpointFor(flow string) string {
	q := *p
	if flow != "" {
		q.Flow = flow
	}
	return q.missingEndpoint()
}

// checkFlow checks what the flow needs: its endpoints, a user name for the
// password flow, and flags that apply to it.
func (o *loginOptions) checkFlow(p *profile, meta *tokensource.Metadata) error {
	flow := p.flow()
	if flow == flowPassword && p.Username == "" {
		if p.Mode == modeOAuth2 && o.flow == "" {
			return usageErr("--username is required for the password flow; for a browser or device login give --issuer (or --authorization-url, --device-authorization-url) or --flow")
		}
		return usageErr("--username is required")
	}
	if p.Mode == modeJSON && p.RefreshURL == "" {
		return usageErr("--refresh-url is required with --login-url")
	}
	if o.refreshTokenStdin && (p.Mode != modeOAuth2 || flow == flowClientCredentials) {
		return usageErr("--refresh-token-stdin needs an OAuth2 profile whose flow has refresh tokens (not %s mode, %s flow)", p.Mode, flow)
	}
	if (o.set("no-browser") || o.set("redirect-port")) && flow != flowBrowser {
		return usageErr("--no-browser and --redirect-port apply to the browser flow, not to the %s flow", flow)
	}
	if o.passwordStdin && flow != flowPassword {
		return usageErr("--password-stdin applies to the password flow, not to the %s flow", flow)
	}
	if (flow == flowBrowser || flow == flowDevice || flow == flowClientCredentials) && p.ClientID == "" {
		return usageErr("--client-id is required for the %s flow", flow)
	}
	return requireEndpoints(p, meta)
}
