package main

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// TestLoginResolve: how login turns its flags into a profile: endpoints
// discovered from --issuer (explicit URLs win), the default flow
// (password with --username, else browser when one can be opened, else
// device), and the errors of a server that lacks what the flow needs.
func TestLoginResolve(t *testing.T) {
	t.Parallel()
	srv := authtest.NewServer(t, authtest.Options{})
	noDevice := authtest.NewServer(t, authtest.Options{
		MutateDiscovery: func(doc map[string]any) { delete(doc, "device_authorization_endpoint") }})
	mismatch := authtest.NewServer(t, authtest.Options{
		MutateDiscovery: func(doc map[string]any) { doc["issuer"] = "https://auth.example.com" }})
	issuer := func(s *authtest.Server, extra ...string) []string {
		return append([]string{"login", "--issuer", s.IssuerURL(), "--client-id", "cli"}, extra...)
	}
	cases := []struct {
		name     string
		args     []string
		vars     map[string]string
		terminal bool // stdin and stderr are terminals
		browser  bool // the system can open a browser
		want     func(t *testing.T, p *profile)
		wantErr  func(t *testing.T, err error)
	}{
		{name: "no browser: device", args: issuer(srv), want: func(t *testing.T, p *profile) {
			if p.Flow != flowDevice || p.Issuer != srv.IssuerURL() || p.TokenURL != srv.TokenURL() ||
				p.RevokeURL != srv.RevokeURL() || p.DeviceAuthorizationURL != srv.DeviceAuthorizationURL() ||
				p.AuthorizationURL != srv.AuthorizationURL() || p.Mode != modeOAuth2 {
				t.Errorf("profile %+v, want the device flow and every discovered endpoint", *p)
			}
		}},
		{name: "BROWSER set: browser", args: issuer(srv), vars: map[string]string{"BROWSER": "true"}, want: flowIs(flowBrowser)},
		{name: "browser and terminal: browser", args: issuer(srv), browser: true, terminal: true, want: flowIs(flowBrowser)},
		{name: "browser, no terminal: device", args: issuer(srv), browser: true, want: flowIs(flowDevice)},
		{name: "terminal, no browser: device", args: issuer(srv), terminal: true, want: flowIs(flowDevice)},
		{name: "username: password", args: issuer(srv, "-u", "alice"), vars: map[string]string{"BROWSER": "true"}, want: flowIs(flowPassword)},
		{name: "explicit flow", args: issuer(srv, "--flow", "client-credentials"), want: flowIs(flowClientCredentials)},
		{name: "explicit URL wins", args: issuer(srv, "--token-url", "https://other.example.com/token"), want: func(t *testing.T, p *profile) {
			if p.TokenURL != "https://other.example.com/token" || p.RevokeURL != srv.RevokeURL() {
				t.Errorf("token %q, revoke %q; want the flag's token URL and the discovered revocation endpoint", p.TokenURL, p.RevokeURL)
			}
		}},
		{name: "refresh token with issuer: device to log in again", args: issuer(srv, "--refresh-token-stdin"), want: flowIs(flowDevice)},
		{name: "refresh token with token URL: no login", want: flowIs(flowRefreshToken),
			args: []string{"login", "--token-url", srv.TokenURL(), "--client-id", "cli", "--refresh-token-stdin"}},
		{name: "no device endpoint, a browser: browser", args: issuer(noDevice), vars: map[string]string{"BROWSER": "true"}, want: flowIs(flowBrowser)},
		{name: "no device endpoint, no browser", args: issuer(noDevice), wantErr: func(t *testing.T, err error) {
			var me *tokensource.MissingEndpointError
			if !errors.As(err, &me) || me.Field != "device_authorization_endpoint" || exitCode(err) != exitError {
				t.Errorf("err = %v (exit %d), want a MissingEndpointError for device_authorization_endpoint, exit 1", err, exitCode(err))
			}
		}},
		{name: "issuer mismatch", args: issuer(mismatch), wantErr: func(t *testing.T, err error) {
			var ie *tokensource.IssuerMismatchError
			if !errors.As(err, &ie) || exitCode(err) != exitError {
				t.Errorf("err = %v, want an IssuerMismatchError", err)
			}
		}},
		{name: "browser flow without its endpoint", args: []string{"login", "--token-url", srv.TokenURL(), "--client-id", "cli", "--flow", "browser"},
			wantErr: isUsage("--authorization-url")},
		{name: "device flow without client id", args: []string{"login", "--issuer", srv.IssuerURL(), "--flow", "device"},
			wantErr: isUsage("--client-id is required")},
		{name: "no-browser with the device flow", args: issuer(srv, "--flow", "device", "--no-browser"), wantErr: isUsage("apply to the browser flow")},
		{name: "token URL, no user, no flow", args: []string{"login", "--token-url", srv.TokenURL()}, wantErr: isUsage("--username is required")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			te := newTestEnv(t, "")
			maps.Copy(te.vars, tc.vars)
			te.isTerminal = func(any) bool { return tc.terminal }
			te.browserAvailable = func() bool { return tc.browser }
			var p *profile
			var err error
			root := newRootCmd(&te.env, runners{login: func(ctx context.Context, o *loginOptions) error {
				p, err = o.resolve(ctx, te.vars["TOKENREFRESH_CONFIG_DIR"])
				return nil
			}})
			if code := te.env.execute(t.Context(), root, tc.args); code != exitOK {
				err = &codedError{code: code, err: errors.New(te.errOut.String())}
				if tc.wantErr == nil {
					t.Fatalf("login = %d: %s", code, te.errOut.String())
				}
			}
			switch {
			case tc.wantErr != nil:
				tc.wantErr(t, err)
			case err != nil:
				t.Fatalf("resolve: %v", err)
			default:
				tc.want(t, p)
			}
		})
	}
}

func flowIs(want string) func(t *testing.T, p *profile) {
	return func(t *testing.T, p *profile) {
		t.Helper()
		if p.Flow != want {
			t.Errorf("flow %q, want %q", p.Flow, want)
		}
	}
}

func isUsage(want string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v (exit %d), want a usage error saying %q", err, exitCode(err), want)
		}
	}
}
