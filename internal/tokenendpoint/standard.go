package tokenendpoint

import (
	"encoding/json"
	"slices"
)

// The standard shape of a token answer, read without the generic decoder:
// one flat JSON object with a non-empty access_token string, the snake_case
// fields of RFC 6749 (and the refresh lifetimes Keycloak and GitHub add)
// and any other fields that hold a string, number, true, false or null. It
// is what nearly every server sends, and reading it costs a few
// allocations instead of a map per answer.
//
// parseStandard is a shortcut, never a second set of rules: whatever it
// accepts, parseTokenJSON (with no Paths) reads to the same token, and
// errorCodeOnSuccess finds no error code in. Anything else (an escape or
// a non-ASCII byte in a string or a key, a nested value, a field the
// generic parser would consult under another name, an "error" field, no
// access token, data after the object, invalid JSON) makes it decline,
// and the generic path decides. FuzzStandardMatchesGeneric checks this.

// smallBody is the largest answer whose token fields may share one string
// with the rest of the body; a larger one gets a string per field, so that
// a token never keeps a large body alive.
const smallBody = 4096

// jsonKind is the kind of a scalar JSON value.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonString
	jsonNumber
	jsonBool
)

// stdScanner reads one flat JSON object.
type stdScanner struct {
	b []byte
	i int
	s string // the body as a string when it is small, else ""
}

// str returns b[from:to] as a string, sharing the small body's string.
func (sc *stdScanner) str(from, to int) string {
	if sc.s != "" {
		return sc.s[from:to]
	}
	return string(sc.b[from:to])
}

func (sc *stdScanner) space() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c,
// consuming it if so.
func (sc *stdScanner) next(c byte) bool {
	sc.space()
	if sc.i < len(sc.b) && sc.b[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// plainString reads a string without escapes or non-ASCII bytes, the
// opening quote already consumed, and returns the offsets of its contents.
func (sc *stdScanner) plainString() (from, to int, ok bool) {
	from = sc.i
	for ; sc.i < len(sc.b); sc.i++ {
		switch c := sc.b[sc.i]; {
		case c == '"':
			sc.i++
			return from, sc.i - 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// digits consumes a run of ASCII digits and reports whether there was one.
func (sc *stdScanner) digits() bool {
	from := sc.i
	for sc.i < len(sc.b) && sc.b[sc.i] >= '0' && sc.b[sc.i] <= '9' {
		sc.i++
	}
	return sc.i > from
}

// number reads a JSON number (RFC 8259 grammar).
func (sc *stdScanner) number() (from, to int, ok bool) {
	from = sc.i
	if sc.b[sc.i] == '-' {
		sc.i++
	}
	switch {
	case sc.i < len(sc.b) && sc.b[sc.i] == '0':
		sc.i++
	case !sc.digits():
		return 0, 0, false
	}
	if sc.i < len(sc.b) && sc.b[sc.i] == '.' {
		sc.i++
		if !sc.digits() {
			return 0, 0, false
		}
	}
	if sc.i < len(sc.b) && (sc.b[sc.i] == 'e' || sc.b[sc.i] == 'E') {
		sc.i++
		if sc.i < len(sc.b) && (sc.b[sc.i] == '+' || sc.b[sc.i] == '-') {
			sc.i++
		}
		if !sc.digits() {
			return 0, 0, false
		}
	}
	return from, sc.i, true
}

// literal consumes word if the body continues with it.
func (sc *stdScanner) literal(word string) bool {
	if len(sc.b)-sc.i < len(word) || string(sc.b[sc.i:sc.i+len(word)]) != word {
		return false
	}
	sc.i += len(word)
	return true
}

// value reads a scalar value: its kind and, for a string or a number, the
// offsets of its text. A nested value or anything invalid is not ok.
func (sc *stdScanner) value() (kind jsonKind, from, to int, ok bool) {
	sc.space()
	if sc.i >= len(sc.b) {
		return 0, 0, 0, false
	}
	switch c := sc.b[sc.i]; {
	case c == '"':
		sc.i++
		from, to, ok = sc.plainString()
		return jsonString, from, to, ok
	case c == '-' || (c >= '0' && c <= '9'):
		from, to, ok = sc.number()
		return jsonNumber, from, to, ok
	case sc.literal("true"), sc.literal("false"):
		return jsonBool, 0, 0, true
	case sc.literal("null"):
		return jsonNull, 0, 0, true
	}
	return 0, 0, 0, false
}

// consulted reports whether the generic parser (no Paths) or
// errorCodeOnSuccess may read a field named key that parseStandard does
// not read itself.
func consulted(key string) bool {
	if key == "error" {
		return true
	}
	for _, keys := range [][]string{accessKeys, refreshKeys, typeKeys, idKeys, expiresInKeys,
		expiresAtKeys, refreshInKeys, refreshAtKeys, envelopeKeys} {
		if slices.Contains(keys, key) {
			return true
		}
	}
	return false
}

// parseStandard reads a token answer of the standard shape (see above). ok
// is false for any other body.
func parseStandard(body []byte) (p parsedToken, ok bool) {
	sc := stdScanner{b: body}
	if len(body) <= smallBody {
		sc.s = string(body)
	}
	if !sc.next('{') || sc.next('}') { // {} holds no access token
		return parsedToken{}, false
	}
	f := stdFields{p: parsedToken{style: StyleSnake}}
	for more := true; more; {
		if !sc.next('"') {
			return parsedToken{}, false
		}
		kf, kt, ok := sc.plainString()
		if !ok || !sc.next(':') {
			return parsedToken{}, false
		}
		kind, from, to, ok := sc.value()
		if !ok || !f.set(sc.str(kf, kt), kind, sc.str(from, to)) {
			return parsedToken{}, false
		}
		if more = sc.next(','); !more && !sc.next('}') {
			return parsedToken{}, false
		}
	}
	if sc.space(); sc.i != len(body) || f.p.access == "" {
		return parsedToken{}, false
	}
	f.p.refreshIn = firstPresent(f.refreshIn, f.refreshIn2)
	f.p.refreshAt = firstPresent(f.refreshAt, f.refreshAt2)
	return f.p, true
}

// stdFields collects the fields of a standard answer.
type stdFields struct {
	p parsedToken
	// The refresh lifetimes have two snake_case names each; the generic
	// parser takes the first one present with a non-null value.
	refreshIn, refreshIn2, refreshAt, refreshAt2 any
}

// set records the field key with a value of kind, text being the contents
// of a string or the digits of a number. It reports false for a field the
// generic parser must judge.
func (f *stdFields) set(key string, kind jsonKind, text string) bool {
	if kind != jsonString && kind != jsonNumber {
		text = "" // what text() makes of the value
	}
	switch key {
	case "access_token":
		if kind != jsonString && kind != jsonNull {
			return false // the generic parser looks for an envelope
		}
		f.p.access = text
	case "refresh_token":
		f.p.refresh = text
	case "token_type":
		f.p.typ = text
	case "id_token":
		f.p.id = ""
		if kind == jsonString {
			f.p.id = text
		}
	case "expires_in":
		f.p.expiresIn = found(kind, text)
	case "expires_at":
		f.p.expiresAt = found(kind, text)
	case "refresh_expires_in":
		f.refreshIn = found(kind, text)
	case "refresh_token_expires_in":
		f.refreshIn2 = found(kind, text)
	case "refresh_expires_at":
		f.refreshAt = found(kind, text)
	case "refresh_token_expires_at":
		f.refreshAt2 = found(kind, text)
	default:
		return !consulted(key)
	}
	return true
}

// found is a lifetime or expiry value as the generic decoder finds it:
// nil for null, and a value of the type the readers of expiries expect.
func found(kind jsonKind, text string) any {
	switch kind {
	case jsonString:
		return text
	case jsonNumber:
		return json.Number(text)
	case jsonBool:
		return true // present, and neither a number nor a time
	}
	return nil
}

// firstPresent returns a unless it is nil, else b: the first field present
// with a non-null value, as firstKey picks it.
func firstPresent(a, b any) any {
	if a != nil {
		return a
	}
	return b
}
