package tokensource

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// encodingVersion is the version EncodeToken writes. DecodeToken reads
// every version up to it.
const encodingVersion = 1

// ErrUnreadableToken is wrapped by the errors DecodeToken returns for
// bytes that are not a stored token: corrupt, truncated, or written by a
// newer version of this package.
var ErrUnreadableToken = errors.New("tokensource: unreadable stored token")

// storedToken is the on-disk shape. Field names are part of the format:
// never rename them; add fields and bump encodingVersion only when an old
// reader would misread the new data.
type storedToken struct {
	Version       int        `json:"version"`
	AccessToken   string     `json:"access_token"`
	TokenType     string     `json:"token_type,omitempty"`
	RefreshToken  string     `json:"refresh_token,omitempty"`
	Expiry        *time.Time `json:"expiry,omitempty"`
	RefreshExpiry *time.Time `json:"refresh_expiry,omitempty"`
	IssuedAt      *time.Time `json:"issued_at,omitempty"`
}

// EncodeToken serializes t, secrets included, in the versioned JSON format
// that [DecodeToken] reads. The bytes are as secret as the token itself.
func EncodeToken(t *Token) ([]byte, error) {
	if t == nil || t.AccessToken == "" {
		return nil, errors.New("tokensource: encode: token has no access token")
	}
	return json.Marshal(storedToken{
		Version:       encodingVersion,
		AccessToken:   t.AccessToken,
		TokenType:     t.TokenType,
		RefreshToken:  t.RefreshToken,
		Expiry:        timePtr(t.Expiry),
		RefreshExpiry: timePtr(t.RefreshExpiry),
		IssuedAt:      timePtr(t.IssuedAt),
	})
}

// DecodeToken parses bytes written by [EncodeToken] in this or any earlier
// version. Anything else gives an error wrapping [ErrUnreadableToken]; the
// error never quotes the input, which may hold secrets.
func DecodeToken(b []byte) (*Token, error) {
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrUnreadableToken, describeJSONError(err))
	}
	switch {
	case st.Version < 1:
		return nil, fmt.Errorf("%w: missing format version", ErrUnreadableToken)
	case st.Version > encodingVersion:
		return nil, fmt.Errorf("%w: format version %d is newer than this program understands (%d)",
			ErrUnreadableToken, st.Version, encodingVersion)
	case st.AccessToken == "":
		return nil, fmt.Errorf("%w: no access token", ErrUnreadableToken)
	}
	return &Token{
		AccessToken:   st.AccessToken,
		TokenType:     st.TokenType,
		RefreshToken:  st.RefreshToken,
		Expiry:        timeVal(st.Expiry),
		RefreshExpiry: timeVal(st.RefreshExpiry),
		IssuedAt:      timeVal(st.IssuedAt),
	}, nil
}

// describeJSONError names what is wrong with a JSON document without
// quoting any of it (json's messages can include input fragments).
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid or truncated JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	}
	return "invalid JSON"
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func timeVal(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
