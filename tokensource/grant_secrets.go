package tokensource

import (
	"bytes"
	"encoding/json"
	"html"
	"net/url"
	"strings"
)

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
