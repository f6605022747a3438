package transport

import (
	"net/http"
	"strings"
)

// challenge is one authentication challenge from a WWW-Authenticate header
// (RFC 9110 section 11.6.1): a scheme followed by either a token68 or a
// list of name=value parameters.
type challenge struct {
	scheme  string
	token68 string
	params  []param
}

// param is one auth-param of a challenge. Names are kept as sent; compare
// them with strings.EqualFold.
type param struct {
	name, value string
}

// get returns the value of the parameter called name (case-insensitive).
func (c *challenge) get(name string) (string, bool) {
	for _, p := range c.params {
		if strings.EqualFold(p.name, name) {
			return p.value, true
		}
	}
	return "", false
}

// verdict is what a 401 response says about the token that was sent.
type verdict int

const (
	// renewable: the token was rejected (a challenge for our scheme with
	// any error but insufficient_scope, or no challenge at all). A new
	// token may succeed.
	renewable verdict = iota
	// foreign: only challenges for other schemes (e.g. Basic); the 401 is
	// not about our token.
	foreign
	// refused: a challenge for our scheme with error="insufficient_scope";
	// a new token with the same scopes would not help.
	refused
)

// classify reads the WWW-Authenticate headers of a 401 response and decides
// whether renewing a token of the given scheme (such as "Bearer") can help.
//
//   - no WWW-Authenticate at all: renewable (many servers send a bare 401);
//   - a challenge for scheme with error="insufficient_scope" (RFC 6750
//     section 3.1): refused, since the token is valid but too weak;
//   - any other challenge for scheme: renewable. RFC 6750 names
//     invalid_token, but real servers send other codes for a revoked or
//     rotated-away token (Ory Hydra: error="request_unauthorized"), and the
//     transport retries at most once anyway;
//   - only challenges for other schemes, or nothing parsable: foreign.
//
// When several challenges name scheme, the first one decides.
func classify(h http.Header, scheme string) verdict {
	values := h.Values("Www-Authenticate")
	seen := false
	for _, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		seen = true
		for _, c := range parseChallenges(v) {
			if !strings.EqualFold(c.scheme, scheme) {
				continue
			}
			if code, _ := c.get("error"); strings.EqualFold(code, "insufficient_scope") {
				return refused
			}
			return renewable
		}
	}
	if !seen {
		return renewable
	}
	return foreign
}

// parseChallenges parses one WWW-Authenticate field value into its
// challenges. It is lenient: a malformed part is skipped up to the next
// comma and parsing resumes. It never panics and runs in time linear in
// len(s) (every step consumes input).
func parseChallenges(s string) []challenge {
	var out []challenge
	p := parser{s: s}
	for {
		p.skipListSeparators()
		if p.done() {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			p.skipPastComma()
			continue
		}
		c := challenge{scheme: scheme}
		if p.skipSpace() > 0 {
			if t, ok := p.token68(); ok {
				c.token68 = t
			} else {
				c.params = p.params()
			}
		}
		out = append(out, c)
		if !p.done() && p.peek() != ',' {
			// Garbage after the challenge: resynchronise at the next comma.
			p.skipPastComma()
		}
	}
}

// parser is a cursor over a header value.
type parser struct {
	s string
	i int
}

func (p *parser) done() bool { return p.i >= len(p.s) }
func (p *parser) peek() byte { return p.s[p.i] }

// skipSpace skips optional whitespace and returns how much it skipped.
func (p *parser) skipSpace() int {
	start := p.i
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
	return p.i - start
}

// skipListSeparators skips whitespace and empty list elements.
func (p *parser) skipListSeparators() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == ',') {
		p.i++
	}
}

// skipPastComma moves past the next comma, or to the end. It always
// consumes at least one byte when not done.
func (p *parser) skipPastComma() {
	if p.done() {
		return
	}
	p.i++
	for !p.done() && p.s[p.i-1] != ',' {
		p.i++
	}
}

// token reads a token (RFC 9110 tchar+); it returns "" if none starts here.
func (p *parser) token() string {
	start := p.i
	for !p.done() && isTchar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads a token68 if the rest of this challenge is exactly one
// (followed by optional whitespace and then a comma or the end). Otherwise
// it consumes nothing and reports false.
func (p *parser) token68() (string, bool) {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	end := j
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return "", false
	}
	t := p.s[p.i:end]
	p.i = j
	return t, true
}

// params reads a comma-separated list of auth-params. It stops before the
// comma that precedes the next challenge, at the end, or at something that
// is not a parameter.
func (p *parser) params() []param {
	var out []param
	for {
		save := p.i
		name := p.token()
		p.skipSpace()
		if name == "" || p.done() || p.peek() != '=' {
			p.i = save // the next challenge's scheme, or garbage
			return out
		}
		p.i++ // '='
		p.skipSpace()
		var value string
		if !p.done() && p.peek() == '"' {
			value = p.quoted()
		} else {
			value = p.token()
		}
		out = append(out, param{name: name, value: value})
		p.skipSpace()
		if p.done() || p.peek() != ',' {
			return out
		}
		// Consume commas, then see whether a parameter follows.
		save = p.i
		p.skipListSeparators()
		if !p.isParamAhead() {
			p.i = save
			return out
		}
	}
}

// isParamAhead reports whether a "token BWS =" starts at the cursor,
// without consuming anything.
func (p *parser) isParamAhead() bool {
	save := p.i
	defer func() { p.i = save }()
	if p.token() == "" {
		return false
	}
	p.skipSpace()
	return !p.done() && p.peek() == '='
}

// quoted reads a quoted-string starting at the opening quote and returns its
// unescaped content. An unterminated string runs to the end of the input.
func (p *parser) quoted() string {
	p.i++ // opening quote
	start := p.i
	var b *strings.Builder
	for !p.done() {
		c := p.peek()
		switch {
		case c == '"':
			p.i++
			if b == nil {
				return p.s[start : p.i-1]
			}
			return b.String()
		case c == '\\' && p.i+1 < len(p.s):
			if b == nil {
				b = new(strings.Builder)
				b.WriteString(p.s[start:p.i])
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			if b != nil {
				b.WriteByte(c)
			}
			p.i++
		}
	}
	if b == nil {
		return p.s[start:]
	}
	return b.String()
}

// isTchar reports whether c may appear in an RFC 9110 token.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char reports whether c may appear in a token68 before its
// trailing '=' padding.
func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}
