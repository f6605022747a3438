package tokensource

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
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

// excerpt returns a short, redacted, single-line view of a body.
func excerpt(body []byte) string {
	if len(body) > excerptScan {
		// Cut at a delimiter so no partial secret survives the cut.
		body = body[:excerptScan]
		if i := bytes.LastIndexAny(body, ",{}[]<>&\n\t "); i > 0 {
			body = body[:i]
		}
	}
	return truncate(spaceRE.ReplaceAllString(strings.TrimSpace(redact(string(body))), " "), maxExcerpt)
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
// redacted and bounded.
func parseErrorBody(body []byte, contentType string) errorInfo {
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
	info.code = truncate(redact(strings.TrimSpace(info.code)), 64)
	info.description = truncate(redact(strings.TrimSpace(info.description)), maxExcerpt)
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

// responseError builds the TokenError for a reply that did not yield a
// token. A success status with an unusable body is malformed unless the
// body carries an error code (some servers answer 200 with an error).
func responseError(op string, r *reply, cause error) *TokenError {
	te := &TokenError{Op: op, StatusCode: r.status, Body: excerpt(r.body), Err: cause}
	if r.tooLarge {
		te.Err = ErrResponseTooLarge
		return te
	}
	info := parseErrorBody(r.body, r.header.Get("Content-Type"))
	te.Code, te.Description = info.code, info.description
	success := r.status >= 200 && r.status < 300
	if success && info.code == "" && te.Err == nil {
		te.Err = fmt.Errorf("%w: %s", ErrMalformedResponse, diagnose(r.body))
	}
	if !success || info.code != "" {
		te.Rejected = rejected(op, r.status, info)
	}
	if te.Rejected && op == "refresh" && r.lostAfterSend {
		te.Err = ErrRefreshOutcomeUnknown
	}
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
