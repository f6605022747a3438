package tokensource

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrMalformedResponse is wrapped by the [TokenError] returned when a token
// endpoint answers success with a body that holds no usable access token:
// empty, HTML, invalid JSON or no access token. Odd other fields (an
// expiry that is zero, negative, absurd or not a number, a token_type that
// is not an HTTP auth scheme) never make a response malformed: they are
// normalised, so a refresh token the server issued is never dropped.
var ErrMalformedResponse = errors.New("malformed token response")

// ErrResponseTooLarge is wrapped by the [TokenError] returned when a token
// endpoint response exceeds 1 MiB. It satisfies
// errors.Is(err, ErrMalformedResponse).
var ErrResponseTooLarge = fmt.Errorf("%w: response larger than 1 MiB", ErrMalformedResponse)

// maxLifetime is the longest token lifetime accepted from a server; more is
// taken for a unit mistake (milliseconds sent as seconds) and read as
// unknown.
const maxLifetime = 10 * 365 * 24 * time.Hour

// nameStyle is the field naming of a JSON API.
type nameStyle int32

const (
	styleUnknown nameStyle = iota
	styleSnake
	styleCamel
)

// Field names tried, in order, when no explicit mapping is given.
var (
	envelopeKeys      = []string{"data", "result", "token", "tokens", "payload", "response"}
	accessKeys        = []string{"access_token", "accessToken", "token", "jwt"}
	refreshKeys       = []string{"refresh_token", "refreshToken"}
	typeKeys          = []string{"token_type", "tokenType"}
	expiresInKeys     = []string{"expires_in", "expiresIn"}
	expiresAtKeys     = []string{"expires_at", "expiresAt", "access_token_expires_at", "accessTokenExpiresAt"}
	refreshInKeys     = []string{"refresh_expires_in", "refreshExpiresIn", "refresh_token_expires_in", "refreshTokenExpiresIn"}
	refreshAtKeys     = []string{"refresh_expires_at", "refreshExpiresAt", "refresh_token_expires_at", "refreshTokenExpiresAt"}
	errMalformedEmpty = fmt.Errorf("%w: empty body", ErrMalformedResponse)
	errNoAccessToken  = fmt.Errorf("%w: no access token", ErrMalformedResponse)
)

// parsedToken is a token response before it is normalised.
type parsedToken struct {
	access, refresh, typ string
	expiresIn, refreshIn any // relative expiry values as found, nil if absent
	expiresAt, refreshAt any // absolute expiry values as found, nil if absent
	style                nameStyle
}

// decodeJSON decodes body into generic values, numbers kept exact.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// lookupPath follows a dotted path ("data.tokens.access") through objects.
func lookupPath(v any, path string) any {
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[part]
	}
	return v
}

// firstKey returns the first of keys present in obj with a non-null value.
func firstKey(obj map[string]any, keys []string) (string, any) {
	for _, k := range keys {
		if v, ok := obj[k]; ok && v != nil {
			return k, v
		}
	}
	return "", nil
}

// holdsToken reports whether obj has a string value under one of keys.
func holdsToken(obj map[string]any, keys []string) bool {
	_, v := firstKey(obj, keys)
	_, ok := v.(string)
	return ok
}

// findTokenObject returns the object holding the access token (or, when
// there is none, the refresh token): the root or one envelope level down.
func findTokenObject(root map[string]any) map[string]any {
	for _, keys := range [][]string{accessKeys, refreshKeys} {
		if holdsToken(root, keys) {
			return root
		}
		for _, env := range envelopeKeys {
			if obj, ok := root[env].(map[string]any); ok && holdsToken(obj, keys) {
				return obj
			}
		}
	}
	return root
}

// text returns a token field's value: a string, or the digits of a JSON
// number (some servers send numeric refresh tokens). Anything else is
// absent.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// parseTokenJSON extracts token fields from a JSON body using m's paths and
// the common names for the rest. A body that is a JSON object but holds no
// access token returns the fields found (a refresh token, perhaps) with
// an error wrapping ErrMalformedResponse; any other failure returns nil.
func parseTokenJSON(body []byte, m *JSONMapping) (*parsedToken, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errMalformedEmpty
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedResponse, describeNonJSON(body))
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedResponse)
	}
	obj := findTokenObject(root)
	p := &parsedToken{style: styleSnake}
	pick := func(path string, keys []string) (string, any) {
		if path != "" {
			return path, lookupPath(root, path)
		}
		return firstKey(obj, keys)
	}
	k, access := pick(m.AccessToken, accessKeys)
	p.access, _ = access.(string)
	kr, refresh := pick(m.RefreshToken, refreshKeys)
	p.refresh = text(refresh)
	if k == "accessToken" || (k == "" && kr == "refreshToken") {
		p.style = styleCamel
	}
	_, typ := pick(m.TokenType, typeKeys)
	p.typ = text(typ)
	_, p.expiresIn = pick(m.ExpiresIn, expiresInKeys)
	_, p.expiresAt = pick(m.ExpiresAt, expiresAtKeys)
	_, p.refreshIn = pick(m.RefreshExpiresIn, refreshInKeys)
	_, p.refreshAt = pick(m.RefreshExpiresAt, refreshAtKeys)
	if p.access == "" {
		return p, errNoAccessToken
	}
	return p, nil
}

// parseTokenForm reads a form-encoded token response (RFC 6749 servers of
// old, GitHub's default). Like parseTokenJSON it returns the fields found
// with an error when there is no access token.
func parseTokenForm(body []byte) (*parsedToken, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: invalid form encoding", ErrMalformedResponse)
	}
	val := func(keys ...string) any {
		for _, k := range keys {
			if v := vals.Get(k); v != "" {
				return v
			}
		}
		return nil
	}
	p := &parsedToken{
		access: vals.Get("access_token"), refresh: vals.Get("refresh_token"), typ: vals.Get("token_type"),
		expiresIn: val("expires_in"), expiresAt: val("expires_at"),
		refreshIn: val("refresh_expires_in", "refresh_token_expires_in"), refreshAt: val("refresh_expires_at"),
		style: styleSnake,
	}
	if p.access == "" {
		return p, errNoAccessToken
	}
	return p, nil
}

// parseReply reads a success body as form-encoded when it says so, else as
// JSON, trying a form for a text/plain body that is not JSON.
func parseReply(r *reply, m *JSONMapping) (*parsedToken, error) {
	media, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if media == "application/x-www-form-urlencoded" {
		return parseTokenForm(r.body)
	}
	p, err := parseTokenJSON(r.body, m)
	if p == nil && media == "text/plain" {
		if fp, ferr := parseTokenForm(r.body); ferr == nil {
			return fp, nil
		}
	}
	return p, err
}

// describeNonJSON names what a body that failed to decode looks like.
func describeNonJSON(body []byte) string {
	t := bytes.ToLower(bytes.TrimSpace(body))
	if bytes.HasPrefix(t, []byte("<!doctype html")) || bytes.HasPrefix(t, []byte("<html")) || bytes.Contains(t[:min(len(t), 512)], []byte("<body")) {
		return "HTML page instead of JSON"
	}
	return "invalid JSON"
}

// number converts a JSON number, float64 or numeric string to float64.
func number(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int64:
		return float64(x), true
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// receipt is when an answer arrived, by our clock and by the server's.
type receipt struct {
	now  time.Time // our clock
	date time.Time // the response's Date header; zero when absent or invalid
}

// skew is the server's clock minus ours in whole seconds, zero when the
// server sent no Date. Both clocks are compared at the Date header's
// resolution (whole seconds), so two agreeing clocks give zero rather than
// the -1s that rounding a truncated Date would often report.
func (rc receipt) skew() time.Duration {
	if rc.date.IsZero() {
		return 0
	}
	return rc.date.Truncate(time.Second).Sub(rc.now.Truncate(time.Second))
}

// lifetime turns a lifetime in seconds into an expiry. Zero, negative,
// absurd (over maxLifetime) or non-numeric values mean unknown: the zero
// time.
func (rc receipt) lifetime(v any) time.Time {
	f, ok := number(v)
	if !ok || f <= 0 || f > maxLifetime.Seconds() {
		return time.Time{}
	}
	return rc.now.Add(time.Duration(f * float64(time.Second)))
}

// at turns an absolute expiry t, a time on the server's clock, into one on
// ours: the lifetime is t minus the server's Date (our clock when it sent
// none), counted from our receipt. A lifetime that is not positive or is
// absurd means unknown: the zero time.
func (rc receipt) at(t time.Time) time.Time {
	ref := rc.date
	if ref.IsZero() {
		ref = rc.now
	}
	life := t.Sub(ref)
	if life <= 0 || life > maxLifetime {
		return time.Time{}
	}
	return rc.now.Add(life)
}

// absoluteTime reads an RFC 3339 time or epoch seconds (milliseconds when
// the number is too large to be seconds).
func absoluteTime(v any) (time.Time, bool) {
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	f, ok := number(v)
	if !ok || f <= 0 || f > 1e15 {
		return time.Time{}, false
	}
	if f > 1e11 { // no second count this large before the year 5138
		f /= 1000
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// expiry resolves an expiry from a relative and an absolute value, either
// possibly nil: the relative one when usable, else the absolute one, else
// unknown (the zero time).
func (rc receipt) expiry(rel, abs any) time.Time {
	if t := rc.lifetime(rel); !t.IsZero() {
		return t
	}
	if t, ok := absoluteTime(abs); ok {
		return rc.at(t)
	}
	return time.Time{}
}

// jwtExp returns the exp claim of a JWT-shaped access token, unverified:
// it only schedules a refresh. ok is false when tok is not a JWT with an
// exp claim in epoch seconds.
func jwtExp(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[1]) > maxResponseBytes {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	v, err := decodeJSON(payload)
	if err != nil {
		return time.Time{}, false
	}
	claims, ok := v.(map[string]any)
	if !ok || claims["exp"] == nil {
		return time.Time{}, false
	}
	f, ok := number(claims["exp"])
	if !ok || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// validScheme reports whether s can be an HTTP authentication scheme: a
// token (RFC 9110) that is not just digits.
func validScheme(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	digits := true
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
			digits = false
		default:
			return false
		}
	}
	return !digits
}

// finish builds the Token from p, normalising instead of rejecting: an
// unusable expiry falls back to the exp claim of a JWT access token, else
// is unknown (zero); an invalid token_type becomes "Bearer".
// fallbackRefresh is kept when a response with an access token has no
// refresh token.
func (p *parsedToken) finish(rc receipt, fallbackRefresh string) *Token {
	exp := rc.expiry(p.expiresIn, p.expiresAt)
	if exp.IsZero() {
		if t, ok := jwtExp(p.access); ok {
			exp = rc.at(t)
		}
	}
	typ := p.typ
	if typ != "" && !validScheme(typ) {
		typ = "Bearer"
	}
	t := &Token{AccessToken: p.access, TokenType: typ, RefreshToken: p.refresh,
		Expiry: exp, RefreshExpiry: rc.expiry(p.refreshIn, p.refreshAt), ClockSkew: rc.skew()}
	if t.RefreshToken == "" && t.AccessToken != "" {
		t.RefreshToken = fallbackRefresh
	}
	return t
}
