package tokenendpoint

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Call is one logical request: what to send, and what the request means
// for the errors built for it.
type Call struct {
	Method string      // "" means POST
	URL    string      //
	Header http.Header // canonical keys; not changed while the call runs; nil for none
	Body   []byte      // nil for none

	// Refresh marks a request that spends a refresh token: a failure after
	// the request may have reached the server leaves its outcome unknown
	// (Failure.Unknown), and an error body saying the token is invalid,
	// expired, revoked or reused counts as a rejection.
	Refresh bool
	// Standard marks an RFC 6749 token endpoint, whose success answer
	// carrying an "error" value is a failure (x/oauth2 and standard
	// servers treat it so).
	Standard bool
	// Secrets are the exact secrets the request carries (password, client
	// secret, tokens, API keys): no Failure built for it shows them, as
	// sent or as a server may echo them.
	Secrets []string
}

// Kind says what went wrong in a Failure.
type Kind int

const (
	// KindStatus is an answer that refuses: a status other than success,
	// or a success carrying an RFC 6749 error. Code, Description and Body
	// say what the server said.
	KindStatus Kind = iota
	// KindTransport is a call that got no answer: Err is the transport or
	// context error.
	KindTransport
	// KindUnreadable is an answer whose body could not be read in full:
	// Err is the read error.
	KindUnreadable
	// KindMalformed is a success answer without a usable token: Detail
	// names what the body looks like ("empty body", "HTML page instead of
	// JSON", "no access token", ...).
	KindMalformed
	// KindTooLarge is an answer larger than MaxResponseBytes.
	KindTooLarge
	// KindRedirect is a 3xx answer, never followed: Detail is the origin
	// (scheme://host[:port]) of its target, "" when it named none.
	KindRedirect
	// KindInsecure is an endpoint URL that is neither https:// nor
	// loopback http:// (nor allowed): Detail is its scheme://host. Nothing
	// was sent.
	KindInsecure
	// KindBadURL is an endpoint URL that is missing or invalid: Detail
	// says which. Nothing was sent.
	KindBadURL
)

// Failure is why a call yielded no token, as plain data. No field holds a
// secret the call carried.
type Failure struct {
	Kind   Kind
	Detail string // see Kind
	Err    error  // the transport, context or read error, secrets scrubbed

	Status            int    // the HTTP status; 0 when no answer came
	Code, Description string // the RFC 6749 "error" and "error_description", or their look-alikes
	Body              string // a short, redacted excerpt of the body
	// Rejected reports that the server refused the credentials or the
	// refresh token: the same request cannot succeed.
	Rejected bool
	// Unknown reports, for a Refresh call only, that the server may have
	// acted on the request without a usable answer coming back: the
	// refresh token may be spent.
	Unknown bool
}

// Fail describes an answer that did not yield a token.
func (c *Call) Fail(r *Reply) *Failure { return c.fail(r, "", false) }

// fail describes r; malformed, when set, says what is wrong with a success
// body, and known that the answer says what became of a refresh token (it
// carried a new one).
//
// A refresh's outcome is unknown when the server may have acted on it and
// its answer does not say how: a redirect, an unreadable body, a 5xx other
// than 501 and 503, or a success without a usable token. An answer that
// rejects the refresh token, a success status with an RFC 6749 "error",
// 429, 501, 503 and other 4xx are known: the server did not issue a token.
func (c *Call) fail(r *Reply, malformed string, known bool) *Failure {
	f := &Failure{Kind: KindStatus, Status: r.Status}
	if r.redirect() {
		f.Kind, f.Detail, f.Unknown = KindRedirect, scrub(r.Location, c.Secrets), c.Refresh
		return f
	}
	f.Body = excerpt(r.Body, c.Secrets)
	success := r.Success()
	var info errorInfo
	if !r.TooLarge {
		info = parseErrorBody(r.Body, r.Header.Get("Content-Type"), c.Secrets)
		f.Code, f.Description = info.code, info.description
		if !success || info.code != "" {
			f.Rejected = rejected(c.Refresh, r.Status, info)
		}
	}
	switch {
	case r.TooLarge:
		f.Kind = KindTooLarge
	case r.ReadErr != nil:
		f.Kind, f.Err = KindUnreadable, scrubError(r.ReadErr, c.Secrets)
	case malformed != "":
		f.Kind, f.Detail = KindMalformed, malformed
	case success && info.code == "":
		f.Kind, f.Detail = KindMalformed, diagnose(r.Body)
	}
	// A server that answers with an RFC 6749 error says it did not issue
	// a token; only a 5xx without a verdict or a success without a token
	// leaves a refresh's outcome open.
	known = known || f.Rejected || (success && errorCodeOnSuccess(r))
	acted := success || (r.Status >= 500 && r.Status != http.StatusNotImplemented && !retryableStatus(r.Status))
	f.Unknown = c.Refresh && !known && acted
	return f
}

// Token turns a call's reply into token fields, reading absolute expiries
// against the server's Date header and recording the clock skew. now is
// our clock at receipt; oldRefresh is kept when the answer rotates nothing.
//
// A success without an access token fails as KindMalformed; when it
// carries a refresh token, that comes back too, in a Token with no access
// token, so that a refresh token the server issued is never dropped.
func (c *Call) Token(r *Reply, paths Paths, now time.Time, oldRefresh string) (*Token, *Failure) {
	return c.token(r, paths, now, oldRefresh, true)
}

// token is Token; standard says whether an answer of the standard shape
// may take the shortcut (parseStandard).
func (c *Call) token(r *Reply, paths Paths, now time.Time, oldRefresh string, standard bool) (*Token, *Failure) {
	if !r.Success() || r.TooLarge || r.ReadErr != nil {
		return nil, c.Fail(r)
	}
	if standard && paths == (Paths{}) && !mayBeForm(r.Header.Get("Content-Type")) {
		if p, ok := parseStandard(r.Body); ok {
			return p.finish(receipt{now: now, date: serverDate(r.Header)}, oldRefresh), nil
		}
	}
	if c.Standard && errorCodeOnSuccess(r) {
		return nil, c.Fail(r)
	}
	p, problem := parseReply(r, &paths)
	if p == nil {
		return nil, c.fail(r, problem, false)
	}
	tok := p.finish(receipt{now: now, date: serverDate(r.Header)}, oldRefresh)
	switch {
	case problem == "":
		return tok, nil
	case tok.RefreshToken == "":
		return nil, c.fail(r, problem, false)
	}
	return tok, c.fail(r, problem, true)
}

// mayBeForm reports whether a Content-Type may name a form-encoded body,
// erring towards yes: a body whose type it clears is read as JSON by
// parseReply and errorCodeOnSuccess too.
func mayBeForm(contentType string) bool {
	base, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(base), "application/x-www-form-urlencoded")
}

// serverDate returns the time a response's Date header gives, zero when it
// is missing or invalid.
func serverDate(h http.Header) time.Time {
	date := h.Get("Date")
	if date == "" {
		return time.Time{}
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return time.Time{}
	}
	return t
}

// errorCodeOnSuccess reports whether a success body carries an RFC 6749
// "error" value.
func errorCodeOnSuccess(r *Reply) bool {
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if media == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(r.Body))
		return err == nil && strings.TrimSpace(vals.Get("error")) != ""
	}
	v, err := DecodeJSON(r.Body)
	if err != nil {
		return false
	}
	obj, _ := v.(map[string]any)
	code, _ := obj["error"].(string)
	return strings.TrimSpace(code) != ""
}
