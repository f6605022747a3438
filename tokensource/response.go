package tokensource

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// maxExcerpt caps the body excerpt kept in a TokenError; excerptScan caps
// how much of the body is looked at to make it.
const (
	maxExcerpt  = 200
	excerptScan = 4096
)

// Patterns for values that must never reach an error message.
var (
	secretWords  = `(?:token|secret|password|passwd|jwt|assertion|credential|key)`
	jsonSecretRE = regexp.MustCompile(`(?i)("[^"]*` + secretWords + `[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"?`)
	formSecretRE = regexp.MustCompile(`(?i)\b([\w.-]*` + secretWords + `[\w.-]*=)[^&\s"]+`)
	jwtRE        = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)
	opaqueRE     = regexp.MustCompile(`[A-Za-z0-9+/_=.~-]{24,}`)
	spaceRE      = regexp.MustCompile(`\s+`)
)

// redact removes token-looking values from s: values of fields whose names
// mention tokens or secrets, JWT-shaped strings and long opaque strings.
func redact(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = jsonSecretRE.ReplaceAllStringFunc(s, func(m string) string {
		key := jsonSecretRE.FindStringSubmatch(m)[1]
		if k := strings.ToLower(key); strings.Contains(k, "token_type") || strings.Contains(k, "tokentype") {
			return m
		}
		return key + `"<redacted>"`
	})
	s = formSecretRE.ReplaceAllString(s, `${1}<redacted>`)
	s = jwtRE.ReplaceAllString(s, "<redacted>")
	return opaqueRE.ReplaceAllStringFunc(s, func(m string) string {
		// Identifiers and URLs are kept; opaque values have digits or length.
		if len(m) >= 40 || strings.ContainsAny(m, "0123456789") {
			return "<redacted>"
		}
		return m
	})
}

// excerpt returns a short, redacted, single-line view of a body, with the
// exact secrets removed first.
func excerpt(body []byte, secrets []string) string {
	s := scrub(string(body), secrets)
	if len(s) > excerptScan {
		// Cut at a delimiter so no partial secret survives the cut.
		s = s[:excerptScan]
		if i := strings.LastIndexAny(s, ",{}[]<>&\n\t "); i > 0 {
			s = s[:i]
		}
	}
	return truncate(spaceRE.ReplaceAllString(strings.TrimSpace(redact(s)), " "), maxExcerpt)
}

// truncate shortens s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// errorInfo is what an error body says.
type errorInfo struct {
	code, description string
}

// parseErrorBody reads an RFC 6749 error, a form-encoded error or the
// common JSON error shapes ({"error":{"code","message"}}, {"message"},
// {"errors":[{...}]}, RFC 7807 problem details). Both fields come back
// without secrets (redacted, and scrubbed of the exact secrets given) and
// bounded.
func parseErrorBody(body []byte, contentType string, secrets []string) errorInfo {
	var info errorInfo
	media, _, _ := mime.ParseMediaType(contentType)
	if media == "application/x-www-form-urlencoded" {
		if vals, err := url.ParseQuery(string(body)); err == nil {
			info = errorInfo{vals.Get("error"), vals.Get("error_description")}
		}
	} else if v, err := decodeJSON(body); err == nil {
		if obj, ok := v.(map[string]any); ok {
			info = jsonErrorInfo(obj)
		}
	}
	info.code = truncate(redact(strings.TrimSpace(scrub(info.code, secrets))), 64)
	info.description = truncate(redact(strings.TrimSpace(scrub(info.description, secrets))), maxExcerpt)
	return info
}

func jsonErrorInfo(obj map[string]any) errorInfo {
	var info errorInfo
	str := func(o map[string]any, keys ...string) string {
		for _, k := range keys {
			switch v := o[k].(type) {
			case string:
				if v != "" {
					return v
				}
			case fmt.Stringer: // json.Number
				return v.String()
			}
		}
		return ""
	}
	switch e := obj["error"].(type) {
	case string:
		info.code = e
	case map[string]any:
		info.code = str(e, "code", "error", "type", "status")
		info.description = str(e, "message", "description", "error_description", "detail")
	}
	if list, ok := obj["errors"].([]any); ok && len(list) > 0 {
		if first, ok := list[0].(map[string]any); ok {
			if info.code == "" {
				info.code = str(first, "code", "error", "type")
			}
			if info.description == "" {
				info.description = str(first, "message", "detail", "description")
			}
		}
	}
	if info.code == "" {
		info.code = str(obj, "error_code", "errorCode", "code")
	}
	if info.description == "" {
		info.description = str(obj, "error_description", "errorDescription", "message", "msg",
			"error_message", "errorMessage", "detail", "title")
	}
	return info
}

// configCodes are RFC 6749 errors that blame the client's configuration,
// not the user's credentials or refresh token: logging in again would not
// help, so they are not Rejected.
var configCodes = map[string]bool{
	"invalid_client": true, "unauthorized_client": true, "unsupported_grant_type": true,
	"invalid_scope": true,
}

// deadWords mark an error body saying a refresh token is unusable.
var deadWords = []string{"invalid", "expired", "reuse", "revoked", "not found", "unknown"}

// rejected decides whether an error response means the credentials or the
// refresh token are dead (re-login, or re-authenticate), rather than a
// transient or configuration failure.
func rejected(op string, status int, info errorInfo) bool {
	code := strings.ToLower(info.code)
	if configCodes[code] {
		return false
	}
	if code == "invalid_grant" {
		return true
	}
	if status < 400 || status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests {
		return false
	}
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	if op != "refresh" {
		return false
	}
	text := code + " " + strings.ToLower(info.description)
	for _, w := range deadWords {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

// call is one logical token-endpoint request: its operation ("login",
// "refresh" or "revoke") and the exact secrets it carries (password,
// client secret, refresh or access token, API keys), which no error built
// for it may show.
type call struct {
	op      string
	secrets []string
}

// transportError builds the TokenError for a call that got no response.
// For a refresh whose request may have reached the server, the outcome is
// unknown.
func (c call) transportError(err error) *TokenError {
	var lost *lostError
	if errors.As(err, &lost) {
		err = c.unknown(lost.err)
	}
	return &TokenError{Op: c.op, Err: scrubError(err, c.secrets)}
}

// unknown marks cause as the failure of a request that may have reached
// the server: for a refresh, the refresh token may be spent.
func (c call) unknown(cause error) error {
	if c.op != "refresh" {
		return cause
	}
	return &unknownOutcome{cause: cause}
}

// responseError builds the TokenError for a reply that did not yield a
// token; cause says what was wrong with a success body, if anything.
func (c call) responseError(r *reply, cause error) *TokenError {
	return c.replyError(r, cause, false)
}

// replyError is responseError for an answer whose effect on a refresh
// token is known (rotated) when known is set.
//
// A refresh's outcome is unknown when the server may have acted on it and
// its answer does not say how: a redirect, an unreadable body, a 5xx other
// than 501 and 503, or a success without a usable token (unless it carried
// a refresh token, which says what became of the old one). An answer that
// rejects the refresh token, a success status with an RFC 6749 "error",
// 429, 501, 503 and other 4xx are known: the server did not issue a token.
func (c call) replyError(r *reply, cause error, known bool) *TokenError {
	te := &TokenError{Op: c.op, StatusCode: r.status}
	if r.status >= 300 && r.status <= 399 {
		te.Err = c.unknown(&redirectError{status: r.status, origin: scrub(r.location, c.secrets)})
		return te
	}
	te.Body = excerpt(r.body, c.secrets)
	success := r.status >= 200 && r.status <= 299
	var info errorInfo
	if !r.tooLarge {
		info = parseErrorBody(r.body, r.header.Get("Content-Type"), c.secrets)
		te.Code, te.Description = info.code, info.description
		if !success || info.code != "" {
			te.Rejected = rejected(c.op, r.status, info)
		}
	}
	switch {
	case r.tooLarge:
		cause = ErrResponseTooLarge
	case r.readErr != nil:
		cause = r.readErr
	case success && info.code == "" && cause == nil:
		cause = fmt.Errorf("%w: %s", ErrMalformedResponse, diagnose(r.body))
	}
	// A server that answers with an RFC 6749 error says it did not issue
	// a token; only a 5xx without a verdict or a success without a token
	// leaves a refresh's outcome open.
	known = known || te.Rejected || (success && errorCodeOnSuccess(r))
	acted := success || (r.status >= 500 && r.status != http.StatusNotImplemented && !retryableStatus(r.status))
	if !known && acted {
		cause = c.unknown(cause)
	}
	te.Err = scrubError(cause, c.secrets)
	return te
}

// diagnose names what is wrong with a success body that held no token.
func diagnose(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body"
	}
	if _, err := decodeJSON(body); err != nil {
		return describeNonJSON(body)
	}
	return "no access token"
}

// token turns a call's reply into a Token, reading absolute expiries
// against the server's Date header and stamping the clock skew. now is our
// clock at receipt; oldRefresh is kept when the answer rotates nothing.
//
// A success without an access token fails with ErrMalformedResponse; when
// it carries a refresh token, that comes back too, in a Token with no
// access token, so that a refresh token the server issued is never
// dropped.
func (c call) token(r *reply, m *JSONMapping, now time.Time, oldRefresh string) (*Token, nameStyle, error) {
	if r.status < 200 || r.status > 299 || r.tooLarge || r.readErr != nil {
		return nil, styleUnknown, c.responseError(r, nil)
	}
	p, err := parseReply(r, m)
	if p == nil {
		return nil, styleUnknown, c.responseError(r, err)
	}
	tok := p.finish(receipt{now: now, date: serverDate(r.header)}, oldRefresh)
	switch {
	case err == nil:
		return tok, p.style, nil
	case tok.RefreshToken == "":
		return nil, styleUnknown, c.responseError(r, err)
	}
	return tok, p.style, c.replyError(r, err, true)
}

// serverDate returns the time a response's Date header gives, zero when it
// is missing or invalid.
func serverDate(h http.Header) time.Time {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return t
}

// errorCodeOnSuccess reports whether a success body carries an RFC 6749
// "error" value, which x/oauth2 and standard servers treat as a failure.
func errorCodeOnSuccess(r *reply) bool {
	media, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if media == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(r.body))
		return err == nil && strings.TrimSpace(vals.Get("error")) != ""
	}
	v, err := decodeJSON(r.body)
	if err != nil {
		return false
	}
	obj, _ := v.(map[string]any)
	code, _ := obj["error"].(string)
	return strings.TrimSpace(code) != ""
}
