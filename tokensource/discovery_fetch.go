package tokensource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/tokenrefresh/tokenrefresh/internal/loopback"
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

func (e *insecureURLError) Error() string {
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
		return nil, errors.New("the issuer is not an absolute URL")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errors.New("an issuer has no user information, query or fragment (RFC 8414 section 2)")
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
	prior := fmt.Sprintf("no RFC 8414 document at %s: %v", oauthURL, first.err)
	if first.status != 0 {
		prior = fmt.Sprintf("no RFC 8414 document at %s: status %d", oauthURL, first.status)
	}
	return nil, &DiscoveryError{Issuer: issuer, URL: oidcURL, StatusCode: second.status, Err: second.err, prior: prior}
}

// fetch GETs one document URL through the token-endpoint client (retries
// only for requests that did not reach the server, 429 and 503; no
// redirect followed) and validates the document against issuer.
func (d *Discoverer) fetch(ctx context.Context, issuer, docURL string) docResult {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return docResult{err: errors.New("cannot build request")}
	}
	req.Header.Set("Accept", "application/json")
	e := endpoint{client: d.HTTPClient, policy: d.Retry, logger: d.Logger, allowInsecure: d.AllowInsecureHTTP}
	r, err := e.do(req)
	if err != nil {
		var lost *lostError
		if errors.As(err, &lost) {
			err = lost.err
		}
		return docResult{err: err}
	}
	res := docResult{status: r.status}
	switch {
	case r.status >= 300 && r.status <= 399:
		to := "elsewhere"
		if r.location != "" {
			to = "to " + r.location
		}
		res.err = fmt.Errorf("redirected %s; a discovery document is read from the issuer's own URL only", to)
		res.absent = true
	case r.status == http.StatusTooManyRequests || r.status >= 500:
		res.err = errors.New("the server failed")
	case r.status >= 400:
		res.err, res.absent = errors.New("no document"), true
	case r.status < 200 || r.status > 299:
		res.err = errors.New("unexpected status")
	case r.tooLarge || len(r.body) > maxDocumentBytes:
		res.err = fmt.Errorf("document larger than %d KiB", maxDocumentBytes>>10)
	case r.readErr != nil:
		res.err = r.readErr
	default:
		res.meta, res.absent, res.err = d.parse(issuer, r.body)
	}
	return res
}

// parse decodes and validates a document; absent reports a body that is
// not a JSON object at all (an HTML page, say).
func (d *Discoverer) parse(issuer string, body []byte) (meta *Metadata, absent bool, err error) {
	v, err := decodeJSON(body)
	if _, ok := v.(map[string]any); err != nil || !ok {
		what := "a JSON value that is not an object"
		if err != nil {
			what = describeNonJSON(body)
		}
		return nil, true, fmt.Errorf("not a metadata document: %s", what)
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, fmt.Errorf("malformed metadata document: %w", err)
	}
	if m.Issuer != issuer {
		return nil, false, &IssuerMismatchError{Want: issuer, Got: truncate(m.Issuer, 200)}
	}
	for _, f := range m.endpoints() {
		if f.value == "" {
			continue
		}
		u, err := url.Parse(f.value)
		if err != nil || u.Host == "" {
			return nil, false, fmt.Errorf("%s is not an absolute URL", f.name)
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
