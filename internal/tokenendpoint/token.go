package tokenendpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/url"
	"strings"
	"time"
)

// Style is the field naming of a JSON API.
type Style int32

// Styles of a JSON API's field names.
const (
	StyleUnknown Style = iota // no answer seen yet
	StyleSnake                // access_token, refresh_token, ...
	StyleCamel                // accessToken, refreshToken, ...
)

// Token is what a success answer gave, normalised: tokensource turns it
// into its Token. The fields mean what they mean there.
type Token struct {
	AccessToken, TokenType, RefreshToken string
	// IDToken is an OpenID Connect id_token sent beside the tokens, as
	// found (a string); never validated here.
	IDToken               string
	Expiry, RefreshExpiry time.Time // zero when unknown
	ClockSkew             time.Duration
	Style                 Style // the naming of the answer
}

// Paths are dotted paths ("data.jwt") from the top of a JSON answer to its
// token fields; an empty one means the common names.
type Paths struct {
	AccessToken, RefreshToken, TokenType string
	ExpiresIn, ExpiresAt                 string
	RefreshExpiresIn, RefreshExpiresAt   string
}

// Field names tried, in order, when no path is given.
var (
	envelopeKeys  = []string{"data", "result", "token", "tokens", "payload", "response"}
	accessKeys    = []string{"access_token", "accessToken", "token", "jwt"}
	refreshKeys   = []string{"refresh_token", "refreshToken"}
	typeKeys      = []string{"token_type", "tokenType"}
	idKeys        = []string{"id_token", "idToken"}
	expiresInKeys = []string{"expires_in", "expiresIn"}
	expiresAtKeys = []string{"expires_at", "expiresAt", "access_token_expires_at", "accessTokenExpiresAt"}
	refreshInKeys = []string{"refresh_expires_in", "refreshExpiresIn", "refresh_token_expires_in", "refreshTokenExpiresIn"}
	refreshAtKeys = []string{"refresh_expires_at", "refreshExpiresAt", "refresh_token_expires_at", "refreshTokenExpiresAt"}
)

// What parsing finds wrong with a success body (Failure.Detail).
const (
	noAccessToken = "no access token"
	emptyBody     = "empty body"
)

// parsedToken is a token answer before it is normalised.
type parsedToken struct {
	access, refresh, typ string
	id                   string // the id_token, if any
	expiresIn, refreshIn any    // relative expiry values as found, nil if absent
	expiresAt, refreshAt any    // absolute expiry values as found, nil if absent
	style                Style
}

// DecodeJSON decodes body into generic values, numbers kept exact. Data
// after the value is an error.
func DecodeJSON(body []byte) (any, error) {
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

// DescribeNonJSON names what a body that failed to decode looks like:
// "HTML page instead of JSON" or "invalid JSON".
func DescribeNonJSON(body []byte) string {
	t := bytes.ToLower(bytes.TrimSpace(body))
	if bytes.HasPrefix(t, []byte("<!doctype html")) || bytes.HasPrefix(t, []byte("<html")) || bytes.Contains(t[:min(len(t), 512)], []byte("<body")) {
		return "HTML page instead of JSON"
	}
	return "invalid JSON"
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
// access token returns the fields found (a refresh token, perhaps) with the
// problem "no access token"; any other problem returns nil.
func parseTokenJSON(body []byte, m *Paths) (*parsedToken, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, emptyBody
	}
	v, err := DecodeJSON(body)
	if err != nil {
		return nil, DescribeNonJSON(body)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, "not a JSON object"
	}
	obj := findTokenObject(root)
	p := &parsedToken{style: StyleSnake}
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
		p.style = StyleCamel
	}
	_, typ := pick(m.TokenType, typeKeys)
	p.typ = text(typ)
	_, id := firstKey(obj, idKeys)
	p.id, _ = id.(string)
	_, p.expiresIn = pick(m.ExpiresIn, expiresInKeys)
	_, p.expiresAt = pick(m.ExpiresAt, expiresAtKeys)
	_, p.refreshIn = pick(m.RefreshExpiresIn, refreshInKeys)
	_, p.refreshAt = pick(m.RefreshExpiresAt, refreshAtKeys)
	if p.access == "" {
		return p, noAccessToken
	}
	return p, ""
}

// parseTokenForm reads a form-encoded token answer (RFC 6749 servers of
// old, GitHub's default). Like parseTokenJSON it returns the fields found
// with a problem when there is no access token.
func parseTokenForm(body []byte) (*parsedToken, string) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "invalid form encoding"
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
		id:        vals.Get("id_token"),
		expiresIn: val("expires_in"), expiresAt: val("expires_at"),
		refreshIn: val("refresh_expires_in", "refresh_token_expires_in"), refreshAt: val("refresh_expires_at"),
		style: StyleSnake,
	}
	if p.access == "" {
		return p, noAccessToken
	}
	return p, ""
}

// parseReply reads a success body as form-encoded when it says so, else as
// JSON, trying a form for a text/plain body that is not JSON.
func parseReply(r *Reply, m *Paths) (*parsedToken, string) {
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if media == "application/x-www-form-urlencoded" {
		return parseTokenForm(r.Body)
	}
	p, problem := parseTokenJSON(r.Body, m)
	if p == nil && media == "text/plain" {
		if fp, fproblem := parseTokenForm(r.Body); fproblem == "" {
			return fp, ""
		}
	}
	return p, problem
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
// fallbackRefresh is kept when an answer with an access token has no
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
	t := &Token{AccessToken: p.access, TokenType: typ, RefreshToken: p.refresh, IDToken: p.id,
		Expiry: exp, RefreshExpiry: rc.expiry(p.refreshIn, p.refreshAt), ClockSkew: rc.skew(), Style: p.style}
	if t.RefreshToken == "" && t.AccessToken != "" {
		t.RefreshToken = fallbackRefresh
	}
	return t
}
