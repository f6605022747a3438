package tokensource

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrMalformedResponse is wrapped by the [TokenError] returned when a token
// endpoint answers success with a body that is not a usable token: empty,
// HTML, invalid JSON, no access token, or an expiry that is negative, zero
// or absurd.
var ErrMalformedResponse = errors.New("malformed token response")

// ErrResponseTooLarge is wrapped by the [TokenError] returned when a token
// endpoint response exceeds 1 MiB. It satisfies
// errors.Is(err, ErrMalformedResponse).
var ErrResponseTooLarge = fmt.Errorf("%w: response larger than 1 MiB", ErrMalformedResponse)

// maxLifetime is the longest token lifetime accepted from a server; more is
// taken for a unit mistake (milliseconds sent as seconds).
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
)

// parsedToken is a token response before it is validated.
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

// findTokenObject returns the object holding the access token: the root or
// one envelope level down.
func findTokenObject(root map[string]any) map[string]any {
	if k, v := firstKey(root, accessKeys); k != "" {
		if _, ok := v.(string); ok {
			return root
		}
	}
	for _, env := range envelopeKeys {
		if obj, ok := root[env].(map[string]any); ok {
			if k, v := firstKey(obj, accessKeys); k != "" {
				if _, ok := v.(string); ok {
					return obj
				}
			}
		}
	}
	return root
}

// parseTokenJSON extracts token fields from a JSON body using m's paths and
// the common names for the rest.
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
	if k == "accessToken" {
		p.style = styleCamel
	}
	var okA bool
	if p.access, okA = access.(string); !okA || p.access == "" {
		return nil, fmt.Errorf("%w: no access token", ErrMalformedResponse)
	}
	fields := []struct {
		dst  *string
		path string
		keys []string
	}{{&p.refresh, m.RefreshToken, refreshKeys}, {&p.typ, m.TokenType, typeKeys}}
	for _, f := range fields {
		if _, v := pick(f.path, f.keys); v != nil {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%w: token field is not a string", ErrMalformedResponse)
			}
			*f.dst = s
		}
	}
	_, p.expiresIn = pick(m.ExpiresIn, expiresInKeys)
	_, p.expiresAt = pick(m.ExpiresAt, expiresAtKeys)
	_, p.refreshIn = pick(m.RefreshExpiresIn, refreshInKeys)
	_, p.refreshAt = pick(m.RefreshExpiresAt, refreshAtKeys)
	return p, nil
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
	case int64: // x/oauth2's Extra on form-encoded responses
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

// relativeExpiry turns a lifetime in seconds into an absolute time. A zero
// lifetime yields the zero time when zeroOK, else an error.
func relativeExpiry(v any, now time.Time, name string, zeroOK bool) (time.Time, error) {
	f, ok := number(v)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %s is not a number", ErrMalformedResponse, name)
	}
	if f == 0 && zeroOK {
		return time.Time{}, nil
	}
	if f <= 0 || f > maxLifetime.Seconds() {
		return time.Time{}, fmt.Errorf("%w: %s out of range", ErrMalformedResponse, name)
	}
	return now.Add(time.Duration(f * float64(time.Second))), nil
}

// absoluteExpiry reads an RFC 3339 time or epoch seconds (milliseconds when
// the number is too large to be seconds) and checks it lies ahead of now.
func absoluteExpiry(v any, now time.Time, name string) (time.Time, error) {
	var t time.Time
	if s, ok := v.(string); ok {
		if parsed, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s)); err == nil {
			t = parsed
		}
	}
	if t.IsZero() {
		f, ok := number(v)
		if !ok || f <= 0 || f > 1e15 {
			return time.Time{}, fmt.Errorf("%w: %s is not a time", ErrMalformedResponse, name)
		}
		if f > 1e11 { // no second count this large before the year 5138
			f /= 1000
		}
		sec, frac := math.Modf(f)
		t = time.Unix(int64(sec), int64(frac*1e9))
	}
	if !t.After(now) || t.Sub(now) > maxLifetime {
		return time.Time{}, fmt.Errorf("%w: %s out of range", ErrMalformedResponse, name)
	}
	return t, nil
}

// expiryOf resolves an expiry from a relative and an absolute value, either
// possibly nil; relative wins.
func expiryOf(rel, abs any, now time.Time, name string, zeroOK bool) (time.Time, error) {
	switch {
	case rel != nil:
		return relativeExpiry(rel, now, name, zeroOK)
	case abs != nil:
		return absoluteExpiry(abs, now, name)
	}
	return time.Time{}, nil
}

// jwtExpiry returns the exp claim of a JWT-shaped access token, unverified:
// it only schedules a refresh. ok is false when tok is not a JWT with a
// plausible exp.
func jwtExpiry(tok string, now time.Time) (time.Time, bool) {
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
	t := time.Unix(int64(f), 0)
	if !t.After(now) || t.Sub(now) > maxLifetime {
		return time.Time{}, false
	}
	return t, true
}

// finish validates p and builds the Token; fallbackRefresh is kept when the
// response has no refresh token.
func (p *parsedToken) finish(now time.Time, fallbackRefresh string) (*Token, error) {
	exp, err := expiryOf(p.expiresIn, p.expiresAt, now, "access token expiry", false)
	if err != nil {
		return nil, err
	}
	if exp.IsZero() {
		exp, _ = jwtExpiry(p.access, now)
	}
	rexp, err := expiryOf(p.refreshIn, p.refreshAt, now, "refresh token expiry", true)
	if err != nil {
		return nil, err
	}
	t := &Token{AccessToken: p.access, TokenType: p.typ, RefreshToken: p.refresh, Expiry: exp, RefreshExpiry: rexp}
	if t.RefreshToken == "" {
		t.RefreshToken = fallbackRefresh
	}
	return t, nil
}
