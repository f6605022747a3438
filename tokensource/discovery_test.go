package tokensource

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

const (
	oauthPath = "/.well-known/oauth-authorization-server"
	oidcPath  = "/.well-known/openid-configuration"
)

// counting is an http.RoundTripper that counts the requests it passes on.
type counting struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(req)
}

// dDiscoverer returns a Discoverer for srv that counts its requests.
func dDiscoverer(srv *authtest.Server) (*Discoverer, *counting) {
	c := &counting{next: srv.Client().Transport}
	return &Discoverer{HTTPClient: &http.Client{Transport: c}, Retry: gFast()}, c
}

func TestDiscoverAuthtest(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{})
	d, _ := dDiscoverer(srv)
	meta, err := d.Discover(t.Context(), srv.IssuerURL())
	if err != nil {
		t.Fatal(err)
	}
	if meta.Issuer != srv.URL || meta.TokenEndpoint != srv.TokenURL() || meta.RevocationEndpoint != srv.RevokeURL() {
		t.Errorf("Discover() = %+v, want the server's issuer, token and revocation endpoints", meta)
	}
	if !slices.Contains(meta.GrantTypesSupported, "client_credentials") || len(meta.TokenEndpointAuthMethodsSupported) == 0 {
		t.Errorf("grant types %v, auth methods %v", meta.GrantTypesSupported, meta.TokenEndpointAuthMethodsSupported)
	}
	if err := meta.Require("token_endpoint", "revocation_endpoint", "authorization_endpoint", "device_authorization_endpoint"); err != nil {
		t.Errorf("Require(every endpoint authtest has) = %v", err)
	}
	if meta.AuthorizationEndpoint != srv.AuthorizationURL() || meta.DeviceAuthorizationEndpoint != srv.DeviceAuthorizationURL() ||
		!slices.Contains(meta.CodeChallengeMethodsSupported, "S256") {
		t.Errorf("Discover() = %+v, want the server's authorization and device endpoints and S256", meta)
	}
	for _, field := range []string{"jwks_uri", "userinfo_endpoint"} {
		err := meta.Require("token_endpoint", field)
		var missing *MissingEndpointError
		if !errors.As(err, &missing) || missing.Field != field || missing.Issuer != srv.URL || !strings.Contains(err.Error(), field) {
			t.Errorf("Require(%s) = %v, want a *MissingEndpointError naming it", field, err)
		}
	}
	var missing *MissingEndpointError
	if err := meta.Require("token_url"); err == nil || errors.As(err, &missing) {
		t.Errorf("Require(token_url) = %v, want an unknown-name error", err)
	}
}

// TestDiscoverWellKnownURLs checks where each document is looked for: RFC
// 8414 inserts the suffix between host and path, OpenID Connect appends it,
// a terminating slash is dropped, and the RFC 8414 document being absent
// (404, an HTML page) leads to the OpenID Connect one.
func TestDiscoverWellKnownURLs(t *testing.T) {
	tests := []struct {
		name, issuerPath string
		absent           func(w http.ResponseWriter) // the RFC 8414 answer; nil serves it
		want             []string                    // paths requested
	}{
		{"rfc8414 no path", "", nil, []string{oauthPath}},
		{"rfc8414 path", "/realms/demo", nil, []string{oauthPath + "/realms/demo"}},
		{"rfc8414 trailing slash", "/realms/demo/", nil, []string{oauthPath + "/realms/demo"}},
		{"oidc after 404", "/realms/demo", func(w http.ResponseWriter) { http.NotFound(w, nil) },
			[]string{oauthPath + "/realms/demo", "/realms/demo" + oidcPath}},
		{"oidc after html", "/tenant/", func(w http.ResponseWriter) { fmt.Fprint(w, "<!doctype html><html>app</html>") },
			[]string{oauthPath + "/tenant", "/tenant" + oidcPath}},
		{"oidc no path after 403", "", func(w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) },
			[]string{oauthPath, oidcPath}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			var issuer string
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
				if strings.HasPrefix(r.URL.Path, oauthPath) && tt.absent != nil {
					tt.absent(w)
					return
				}
				fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, issuer, issuer+"/token")
			}))
			t.Cleanup(ts.Close)
			issuer = ts.URL + tt.issuerPath
			d := &Discoverer{HTTPClient: ts.Client(), Retry: gFast()}
			meta, err := d.Discover(t.Context(), issuer)
			if err != nil {
				t.Fatal(err)
			}
			if meta.Issuer != issuer || meta.TokenEndpoint != issuer+"/token" {
				t.Errorf("Discover() = %+v", meta)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(paths, tt.want) {
				t.Errorf("requested %q, want %q", paths, tt.want)
			}
		})
	}
}

// TestDiscoverRefuses covers documents and issuers that must not be used.
func TestDiscoverRefuses(t *testing.T) {
	tests := []struct {
		name    string
		opts    authtest.Options
		setup   func(srv *authtest.Server)
		issuer  func(srv *authtest.Server) string // nil: the server's issuer
		check   func(t *testing.T, err error)
		wantMsg string
	}{
		{name: "issuer mismatch", opts: authtest.Options{MutateDiscovery: func(doc map[string]any) {
			doc["issuer"] = "https://evil.example"
		}}, check: func(t *testing.T, err error) {
			var mm *IssuerMismatchError
			if !errors.As(err, &mm) || mm.Got != "https://evil.example" || !strings.HasPrefix(mm.Want, "http://127.0.0.1:") {
				t.Errorf("error %v, want an *IssuerMismatchError naming both issuers", err)
			}
		}, wantMsg: `"https://evil.example"`},
		{name: "issuer missing", opts: authtest.Options{MutateDiscovery: func(doc map[string]any) { delete(doc, "issuer") }},
			wantMsg: "names no issuer"},
		{name: "issuer trailing slash", issuer: func(srv *authtest.Server) string { return srv.URL + "/" },
			wantMsg: "must be identical"},
		{name: "plain http endpoint", opts: authtest.Options{MutateDiscovery: func(doc map[string]any) {
			doc["token_endpoint"] = "http://auth.example.com/token"
		}}, check: isInsecure, wantMsg: "token_endpoint http://auth.example.com"},
		{name: "plain http issuer", issuer: func(*authtest.Server) string { return "http://auth.example.com" },
			check: isInsecure, wantMsg: "issuer http://auth.example.com"},
		{name: "relative endpoint", opts: authtest.Options{MutateDiscovery: func(doc map[string]any) { doc["jwks_uri"] = "/keys" }},
			wantMsg: "jwks_uri is not an absolute URL"},
		{name: "wrong field type", opts: authtest.Options{MutateDiscovery: func(doc map[string]any) { doc["grant_types_supported"] = "password" }},
			wantMsg: "malformed metadata document"},
		{name: "html", setup: func(srv *authtest.Server) {
			for _, p := range []string{oauthPath, oidcPath} {
				srv.FailPath(p, 1, authtest.Fault{Status: http.StatusOK, Body: "<html><body>Sign in</body></html>"})
			}
		}, wantMsg: "HTML page instead of JSON"},
		{name: "redirect to another origin", setup: func(srv *authtest.Server) {
			for _, p := range []string{oauthPath, oidcPath} {
				srv.RedirectPath(p, 1, http.StatusFound, "https://evil.example/metadata")
			}
		}, wantMsg: "redirected to https://evil.example"},
		{name: "server error is final", setup: func(srv *authtest.Server) {
			srv.FailPath(oauthPath, 1, authtest.Fault{Status: http.StatusInternalServerError})
		}, check: func(t *testing.T, err error) {
			var de *DiscoveryError
			if !errors.As(err, &de) || de.StatusCode != 500 || !strings.HasSuffix(de.URL, oauthPath) {
				t.Errorf("error %v, want a *DiscoveryError for the RFC 8414 URL with status 500", err)
			}
		}, wantMsg: "status 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := authtest.NewServer(t, tt.opts)
			if tt.setup != nil {
				tt.setup(srv)
			}
			issuer := srv.IssuerURL()
			if tt.issuer != nil {
				issuer = tt.issuer(srv)
			}
			d, _ := dDiscoverer(srv)
			meta, err := d.Discover(t.Context(), issuer)
			var de *DiscoveryError
			if err == nil || meta != nil || !errors.As(err, &de) || de.Issuer != issuer {
				t.Fatalf("Discover() = %v, %v; want a *DiscoveryError for %s", meta, err, issuer)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func isInsecure(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrInsecureEndpoint) {
		t.Errorf("error %v does not match ErrInsecureEndpoint", err)
	}
}

func TestDiscoverAllowInsecureHTTP(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{MutateDiscovery: func(doc map[string]any) {
		doc["token_endpoint"] = "http://auth.example.com/token"
	}})
	d, _ := dDiscoverer(srv)
	d.AllowInsecureHTTP = true
	meta, err := d.Discover(t.Context(), srv.IssuerURL())
	if err != nil || meta.TokenEndpoint != "http://auth.example.com/token" {
		t.Errorf("Discover() = %v, %v; want the http endpoint accepted", meta, err)
	}
}

func TestDiscoverBadIssuer(t *testing.T) {
	for _, issuer := range []string{"auth.example.com", "https://auth.example.com?tenant=1", "https://auth.example.com#x",
		"https://bob:hunter22@auth.example.com", "ftp://auth.example.com", ""} {
		_, err := (&Discoverer{}).Discover(t.Context(), issuer)
		var de *DiscoveryError
		if !errors.As(err, &de) || de.URL != "" {
			t.Errorf("Discover(%q) = %v, want a *DiscoveryError before any request", issuer, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter22") {
			t.Errorf("Discover(%q) error shows the password: %v", issuer, err)
		}
	}
}

func TestDiscoverTooLarge(t *testing.T) {
	var issuer string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"pad":"%s"}`, issuer, strings.Repeat("x", 300<<10))
	}))
	t.Cleanup(ts.Close)
	issuer = ts.URL
	_, err := (&Discoverer{HTTPClient: ts.Client()}).Discover(t.Context(), issuer)
	if err == nil || !strings.Contains(err.Error(), "larger than 256 KiB") {
		t.Errorf("Discover() of a 300 KiB document = %v, want a size error", err)
	}
}
