package tokenendpoint

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxExcerpt caps the body excerpt kept in a Failure; excerptScan caps how
// much of the body is looked at to make it.
const (
	maxExcerpt  = 200
	excerptScan = 4096
)

// Patterns for values that must never reach an error message.
var (
	secretWords  = `(?:token|secret|password|passwd|jwt|assertion|credential|key)`
	secretNameRE = regexp.MustCompile(`(?i)` + secretWords)
	jsonSecretRE = regexp.MustCompile(`(?i)("[^"]*` + secretWords + `[^"]*"\s*:\s*)"(?:[^"\\]|\\.)*"?`)
	formSecretRE = regexp.MustCompile(`(?i)\b([\w.-]*` + secretWords + `[\w.-]*=)[^&\s"]+`)
	jwtRE        = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)
	opaqueRE     = regexp.MustCompile(`[A-Za-z0-9+/_=.~-]{24,}`)
	spaceRE      = regexp.MustCompile(`\s+`)
)

// SecretName reports whether a field or parameter name says its value is
// a secret: it mentions a token, secret, password, JWT, assertion,
// credential or key.
func SecretName(name string) bool { return secretNameRE.MatchString(name) }

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
	return Truncate(spaceRE.ReplaceAllString(strings.TrimSpace(redact(s)), " "), maxExcerpt)
}

// Truncate shortens s to at most n bytes on a rune boundary, marking the
// cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// minSecret is the shortest secret scrub looks for.
const minSecret = 3

// scrub replaces each secret in s, as sent and in the escaped forms a
// server may echo it in (JSON, URL/form, HTML), with "<redacted>". Secrets
// shorter than minSecret are ignored: removing them would mangle the text.
func scrub(s string, secrets []string) string {
	if s == "" {
		return s
	}
	for _, sec := range secrets {
		if len(sec) < minSecret {
			continue
		}
		for _, form := range secretForms(sec) {
			if form != "" {
				s = strings.ReplaceAll(s, form, "<redacted>")
			}
		}
	}
	return s
}

// scrubError hides the secrets in err's message, keeping err reachable for
// errors.Is and errors.As.
func scrubError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := scrub(msg, secrets); clean != msg {
		return &scrubbedError{err: err, msg: clean}
	}
	return err
}

// scrubbedError is an error whose message had secrets removed.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// secretForms returns s as sent and as a server may echo it back: JSON
// string content (with and without HTML escaping), URL query and path
// escaping, and HTML escaping.
func secretForms(s string) []string {
	quoted, _ := json.Marshal(s) // escapes <, > and & too
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	unquote := func(b []byte) string {
		b = bytes.TrimSuffix(b, []byte("\n"))
		return string(b[1 : len(b)-1])
	}
	return []string{
		s,
		unquote(quoted),
		unquote(plain.Bytes()),
		url.QueryEscape(s),
		url.PathEscape(s),
		html.EscapeString(s),
		strings.NewReplacer("&#34;", "&quot;", "&#39;", "&#x27;").Replace(html.EscapeString(s)),
	}
}
