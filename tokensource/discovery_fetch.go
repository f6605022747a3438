package tokensource

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/internal/loopback"
	"github.com/tokenrefresh/tokenrefresh/internal/tokenendpoint"
)

// maxDocumentBytes caps a discovery document.
const maxDocumentBytes = 256 << 10

// Well-known URI suffixes of RFC 8414 and OpenID Connect Discovery.
const (
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
	wellKnownOIDC  = "/.well-known/openid-configuration"
)

// insecureURLError is a metadata URL that is neither https:// nor loopback
// http://. It matches [ErrInsecureEndpoint].
type insecureURLError struct{ field, origin string }

func (e *insecureURLError) Error() string { return prefix + e.bare() }

func (e *insecureURLError) bare() string {
	return fmt.Sprintf("%s %s is neither https nor loopback http", e.field, e.origin)
}

func (e *insecureURLError) Unwrap() error { return ErrInsecureEndpoint }

// docResult is the outcome of fetching one well-known URL. absent reports
// an answer saying there is no document there (a 4xx other than 429, a
// redirect, a page that is not JSON), after which the other well-known URL
// is worth trying.
type docResult struct {
	meta   *Metadata
	status int
	err    error
	absent bool
}

// checkSecure refuses a URL that is not https:// or loopback http://
// (unless allowInsecure permits any http://), naming field.
func checkSecure(field string, u *url.URL, allowInsecure bool) error {
	if loopback.SecureURL(u) || (allowInsecure && strings.EqualFold(u.Scheme, "http")) {
		return nil
	}
	return &insecureURLError{field: field, origin: u.Scheme + "://" + u.Host}
}

// parseIssuer checks an issuer identifier as RFC 8414 section 2 defines
// it: an absolute https URL (or loopback http) with no query, fragment or
// user information.
func parseIssuer(issuer string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return nil, newError("the issuer is not an absolute URL")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, newError("an issuer has no user information, query or fragment (RFC 8414 section 2)")
	}
	return u, checkSecure("issuer", u, allowInsecure)
}

// wellKnownURLs returns the RFC 8414 document URL of u, the well-known
// suffix inserted between host and path (section 3.1), and the OpenID
// Connect one, the suffix appended to the path (section 4). A terminating
// "/" of the path is removed first in both.
func wellKnownURLs(u *url.URL) (oauth, oidc string) {
	base := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return base + wellKnownOAuth + path, base + path + wellKnownOIDC
}

// discover fetches the RFC 8414 document of issuer and, when it is absent,
// the OpenID Connect one, on ctx.
func (d *Discoverer) discover(ctx context.Context, issuer string) (*Metadata, error) {
	u, err := parseIssuer(issuer, d.AllowInsecureHTTP)
	if err != nil {
		return nil, &DiscoveryError{Issuer: redactedURL(issuer), Err: err}
	}
	oauthURL, oidcURL := wellKnownURLs(u)
	first := d.fetch(ctx, issuer, oauthURL)
	if first.err == nil {
		return first.meta, nil
	}
	if !first.absent {
		return nil, &DiscoveryError{Issuer: issuer, URL: oauthURL, StatusCode: first.status, Err: first.err}
	}
	second := d.fetch(ctx, issuer, oidcURL)
	if second.err == nil {
		return second.meta, nil
	}
	prior := fmt.Sprintf("no RFC 8414 document at %s: status %d", oauthURL, first.status) // absent: an answer came
	return nil, &DiscoveryError{Issuer: issuer, URL: oidcURL, StatusCode: second.status, Err: second.err, prior: prior}
}

// fetch GETs one document URL through the token-endpoint client (retries
// only for requests that did not reach the server, 429 and 503; no
// redirect followed) and validates the document against issuer.
func (d *Discoverer) fetch(ctx context.Context, issuer, docURL string) docResult {
	ep := endpointClient(d.HTTPClient, d.Retry, d.Logger, d.AllowInsecureHTTP)
	r, f := ep.Do(ctx, &tokenendpoint.Call{Method: http.MethodGet, URL: docURL, Header: http.Header{"Accept": {"application/json"}}})
	if f != nil {
		return docResult{err: failureCause(f)}
	}
	res := docResult{status: r.Status}
	switch {
	case r.Status >= 300 && r.Status <= 399:
		to := "elsewhere"
		if r.Location != "" {
			to = "to " + r.Location
		}
		res.err = errorf("redirected %s; a discovery document is read from the issuer's own URL only", to)
		res.absent = true
	case r.Status == http.StatusTooManyRequests || r.Status >= 500:
		res.err = newError("the server failed")
	case r.Status >= 400:
		res.err, res.absent = newError("no document"), true
	case !r.Success():
		res.err = newError("unexpected status")
	case r.TooLarge || len(r.Body) > maxDocumentBytes:
		res.err = errorf("document larger than %d KiB", maxDocumentBytes>>10)
	case r.ReadErr != nil:
		res.err = errorf("reading response: %w", r.ReadErr)
	default:
		res.meta, res.absent, res.err = d.parse(issuer, r.Body)
	}
	return res
}

// parse decodes and validates a document; absent reports a body that is
// not a JSON object at all (an HTML page, say).
func (d *Discoverer) parse(issuer string, body []byte) (meta *Metadata, absent bool, err error) {
	v, err := tokenendpoint.DecodeJSON(body)
	if _, ok := v.(map[string]any); err != nil || !ok {
		what := "a JSON value that is not an object"
		if err != nil {
			what = tokenendpoint.DescribeNonJSON(body)
		}
		return nil, true, errorf("not a metadata document: %s", what)
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, errorf("malformed metadata document: %w", err)
	}
	if m.Issuer != issuer {
		return nil, false, &IssuerMismatchError{Want: issuer, Got: tokenendpoint.Truncate(m.Issuer, 200)}
	}
	for _, f := range m.endpoints() {
		if f.value == "" {
			continue
		}
		u, err := url.Parse(f.value)
		if err != nil || u.Host == "" {
			return nil, false, errorf("%s is not an absolute URL", f.name)
		}
		if err := checkSecure(f.name, u, d.AllowInsecureHTTP); err != nil {
			return nil, false, err
		}
	}
	return &m, false, nil
}

// redactedURL returns raw with any password hidden, for error messages.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid URL>"
	}
	return u.Redacted()
}
