package tokensource

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
)

// Identifier is implemented by grants that can name the account whose
// session they obtain. [PasswordGrant] and [JSONGrant] implement it.
//
// A [Source] keeps sessions of different identities apart: with an empty
// Key the store key is derived from the identity, and a stored session of
// another identity is never handed out (an [*IdentityError]) until an
// explicit [Source.Login] replaces it. Grants without an Identity share
// whatever the Key names.
type Identifier interface {
	// Identity names the user, the client and the authorization server's
	// origin, such as "https://auth.example.com client=cli user=alice". It
	// holds no secret.
	Identity() string
}

var (
	_ Identifier = (*PasswordGrant)(nil)
	_ Identifier = (*JSONGrant)(nil)
)

// Identity implements [Identifier]: the token endpoint's origin, the client
// and the user.
func (g *PasswordGrant) Identity() string {
	return fmt.Sprintf("%s client=%s user=%s", origin(g.TokenURL), g.ClientID, g.Username)
}

// Identity implements [Identifier]: the login endpoint's origin and the
// user.
func (g *JSONGrant) Identity() string {
	return fmt.Sprintf("%s user=%s", origin(g.LoginURL), g.Username)
}

// origin returns scheme://host[:port] of raw, lowercased, or raw itself
// when it does not parse.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// IdentityError reports a stored session that belongs to another identity
// than the Source's Grant: handing it out would make one user act as
// another. Log in (which replaces it) or use another Key.
type IdentityError struct {
	Key    string // the store key
	Stored string // the identity the stored session belongs to
	Want   string // the Grant's identity
}

func (e *IdentityError) Error() string { return prefix + e.bare() }

func (e *IdentityError) bare() string {
	return fmt.Sprintf("the session stored under %q belongs to %q, not to %q; log in to replace it, or use another Key",
		e.Key, e.Stored, e.Want)
}

// identity returns the Grant's identity, or "" when it has none.
func (s *Source) identity() string {
	if id, ok := s.Grant.(Identifier); ok {
		return id.Identity()
	}
	return ""
}

// checkOwner refuses tok, read from the store, when it belongs to another
// identity. Records without an identity (written before identities were
// recorded) are accepted.
func (s *Source) checkOwner(tok *Token) error {
	want := s.identity()
	if tok.identity == "" || want == "" || tok.identity == want {
		return nil
	}
	return &IdentityError{Key: s.key(), Stored: tok.identity, Want: want}
}

var errNilGrant = newError("Source.Grant is nil")

// checkConfig reports configuration a Source cannot work with, instead of
// panicking later in a goroutine of its own.
func (s *Source) checkConfig() error {
	if s.Grant == nil || isNilPointer(s.Grant) {
		return errNilGrant
	}
	if s.Store != nil && isNilPointer(s.Store) {
		return errorf("Source.Store is a nil %T", s.Store)
	}
	return nil
}

// isNilPointer reports whether v is an interface holding a nil pointer (a
// typed nil), whose methods would panic.
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
