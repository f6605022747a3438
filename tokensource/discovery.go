package tokensource

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Metadata is an authorization server's metadata document (RFC 8414), or
// the OpenID Connect Discovery document, which shares its field names. Only
// the fields a client of this package may use are kept; every URL in it was
// checked by [Discoverer.Discover] to be https:// or loopback http://.
// Absent fields are empty.
type Metadata struct {
	// Issuer is the server's issuer identifier, identical to the URL that
	// was asked for.
	Issuer string `json:"issuer"`
	// AuthorizationEndpoint is the RFC 6749 authorization endpoint.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenEndpoint is the RFC 6749 token endpoint.
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// DeviceAuthorizationEndpoint is the RFC 8628 device authorization
	// endpoint.
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint,omitempty"`
	// RevocationEndpoint is the RFC 7009 revocation endpoint.
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	// JWKSURI is the server's JSON Web Key Set.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// UserinfoEndpoint is the OpenID Connect UserInfo endpoint.
	UserinfoEndpoint string `json:"userinfo_endpoint,omitempty"`
	// GrantTypesSupported lists grant types such as "client_credentials".
	// RFC 8414 says an absent list means authorization_code and implicit.
	GrantTypesSupported []string `json:"grant_types_supported,omitempty"`
	// ResponseTypesSupported lists response types such as "code".
	ResponseTypesSupported []string `json:"response_types_supported,omitempty"`
	// CodeChallengeMethodsSupported lists PKCE methods such as "S256".
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported,omitempty"`
	// TokenEndpointAuthMethodsSupported lists client authentication
	// methods such as "client_secret_basic" and "client_secret_post".
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// ScopesSupported lists scopes the server advertises.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
}

// endpoints returns the metadata name and value of every endpoint URL in m.
func (m *Metadata) endpoints() []field {
	return []field{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"device_authorization_endpoint", m.DeviceAuthorizationEndpoint},
		{"revocation_endpoint", m.RevocationEndpoint},
		{"jwks_uri", m.JWKSURI},
		{"userinfo_endpoint", m.UserinfoEndpoint},
	}
}

// Require checks that m advertises every endpoint a flow needs. fields are
// metadata names of endpoints: "token_endpoint", "authorization_endpoint",
// "device_authorization_endpoint", "revocation_endpoint", "jwks_uri" or
// "userinfo_endpoint". The first one missing is reported as a
// [*MissingEndpointError]; a name not in that list is an error too.
//
//	if err := meta.Require("token_endpoint"); err != nil { ... } // client credentials
func (m *Metadata) Require(fields ...string) error {
	if m == nil {
		return newError("Require: no metadata")
	}
	eps := m.endpoints()
	for _, name := range fields {
		i := slices.IndexFunc(eps, func(f field) bool { return f.name == name })
		switch {
		case i < 0:
			return errorf("Require: %q is not an endpoint metadata name", name)
		case eps[i].value == "":
			return &MissingEndpointError{Issuer: m.Issuer, Field: name}
		}
	}
	return nil
}

// clone returns a deep copy of m, so that callers sharing a cached
// document cannot change each other's.
func (m *Metadata) clone() *Metadata {
	c := *m
	c.GrantTypesSupported = slices.Clone(m.GrantTypesSupported)
	c.ResponseTypesSupported = slices.Clone(m.ResponseTypesSupported)
	c.CodeChallengeMethodsSupported = slices.Clone(m.CodeChallengeMethodsSupported)
	c.TokenEndpointAuthMethodsSupported = slices.Clone(m.TokenEndpointAuthMethodsSupported)
	c.ScopesSupported = slices.Clone(m.ScopesSupported)
	return &c
}

// MissingEndpointError reports that a server's metadata lacks an endpoint
// the chosen flow needs (see [Metadata.Require]).
type MissingEndpointError struct {
	Issuer string // the server's issuer
	Field  string // the metadata name, such as "device_authorization_endpoint"
}

func (e *MissingEndpointError) Error() string { return prefix + e.bare() }

func (e *MissingEndpointError) bare() string {
	return fmt.Sprintf("%s advertises no %s in its metadata", e.Issuer, e.Field)
}

// IssuerMismatchError reports a metadata document whose issuer is not the
// issuer it was fetched for, which RFC 8414 section 3.3 and OpenID Connect
// Discovery section 4.3 forbid using: the document could make a client send
// credentials to another server. It is the cause of a [*DiscoveryError].
type IssuerMismatchError struct {
	Want string // the issuer asked for
	Got  string // the issuer the document names; "" when it names none
}

func (e *IssuerMismatchError) Error() string { return prefix + e.bare() }

func (e *IssuerMismatchError) bare() string {
	if e.Got == "" {
		return fmt.Sprintf("the document names no issuer, want %q", e.Want)
	}
	return fmt.Sprintf("the document names issuer %q, want %q (they must be identical)", e.Got, e.Want)
}

// DiscoveryError reports a failed discovery. Its cause (Err) is reachable
// with errors.Is and errors.As: an [*IssuerMismatchError],
// [ErrInsecureEndpoint] for an issuer or endpoint that is neither https://
// nor loopback http://, the context's error, a transport error, or a
// description of a bad answer (not JSON, too large, a redirect).
type DiscoveryError struct {
	// Issuer is the issuer asked for.
	Issuer string
	// URL is the document URL of the attempt that failed; "" when none
	// was made (an invalid issuer, a context already done). When the RFC
	// 8414 document was absent, it is the OpenID Connect one.
	URL string
	// StatusCode is the HTTP status of the answer; 0 when none came.
	StatusCode int
	// Err is the cause.
	Err error

	// prior says what the RFC 8414 URL answered before the fallback.
	prior string
}

func (e *DiscoveryError) Error() string { return prefix + e.bare() }

func (e *DiscoveryError) bare() string {
	var b strings.Builder
	fmt.Fprintf(&b, "discover %s: ", e.Issuer)
	if e.URL != "" {
		fmt.Fprintf(&b, "GET %s: ", e.URL)
	}
	if e.StatusCode != 0 && (e.StatusCode < 200 || e.StatusCode > 299) {
		fmt.Fprintf(&b, "status %d: ", e.StatusCode)
	}
	if e.Err != nil {
		b.WriteString(bareMessage(e.Err))
	}
	if e.prior != "" {
		fmt.Fprintf(&b, " (after %s)", e.prior)
	}
	return strings.TrimSuffix(b.String(), ": ")
}

// Unwrap returns the cause.
func (e *DiscoveryError) Unwrap() error { return e.Err }

// defaultDiscoverer serves the package-level [Discover]. It is this
// package's one piece of mutable package state, on purpose: the issue that
// introduced discovery asks for documents "cached per process", which only
// a process-wide cache gives callers who do not hold a [Discoverer].
var defaultDiscoverer Discoverer

// Discover fetches and validates the metadata of the authorization server
// issuer, such as "https://auth.example.com" or
// "https://auth.example.com/realms/demo": RFC 8414 first, then OpenID
// Connect Discovery (see [Discoverer.Discover] for the rules).
//
// Documents are cached per process: a successful answer is kept for an
// hour in a package-level [Discoverer] with default settings, shared by
// every caller of Discover, and concurrent calls for one issuer make one
// request. Failures are not cached. Use a Discoverer of your own to choose
// the HTTP client, timeouts and cache lifetime, or to keep the cache out of
// package state (in tests, for instance). Discover is safe for concurrent
// use.
func Discover(ctx context.Context, issuer string) (*Metadata, error) {
	return defaultDiscoverer.Discover(ctx, issuer)
}
