package tokensource

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// encodingVersion is the version EncodeToken writes. DecodeToken reads
// every version up to it.
const encodingVersion = 1

// ErrUnreadableToken is wrapped by the errors DecodeToken returns for
// bytes that are not a stored token: corrupt, truncated, or written by a
// newer version of this package.
var ErrUnreadableToken = newError("unreadable stored token")

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
	// ClockSkew is Token.ClockSkew in whole seconds.
	ClockSkew int64 `json:"clock_skew_seconds,omitempty"`
	// Identity is the identity of the Grant that obtained the token (see
	// Identifier), so a session is never handed to another user.
	Identity string `json:"identity,omitempty"`
	// IDToken is Token.IDToken. Old readers ignore it and lose only the
	// id_token, so adding it did not need a new version.
	IDToken string `json:"id_token,omitempty"`

	// The refresh token's fate, shared by every process using the store.
	// Old readers ignore these fields, which only make a reader more
	// careful, so adding them did not need a new version.

	// RefreshSentAt records an intent: the refresh token was sent at this
	// time and the answer has not been saved (yet). Saving the successor
	// clears it; a process that finds it knows the token may be spent.
	RefreshSentAt *time.Time `json:"refresh_sent_at,omitempty"`
	// RefreshResent records that the one re-send allowed inside a server's
	// reuse grace period was used.
	RefreshResent bool `json:"refresh_resent,omitempty"`
	// RefreshRejected records that a server rejected the refresh token.
	RefreshRejected bool `json:"refresh_rejected,omitempty"`
}

// EncodeToken serializes t, secrets included, in the versioned JSON format
// that [DecodeToken] reads, together with what a [Source] knows about the
// refresh token's fate (rejected by the server, or sent in a refresh whose
// answer was never saved). The bytes are as secret as the token itself. A
// token needs an access token or a refresh token.
func EncodeToken(t *Token) ([]byte, error) {
	if t == nil || (t.AccessToken == "" && t.RefreshToken == "") {
		return nil, newError("encode: token has neither an access nor a refresh token")
	}
	return json.Marshal(storedToken{
		Version:         encodingVersion,
		AccessToken:     t.AccessToken,
		TokenType:       t.TokenType,
		RefreshToken:    t.RefreshToken,
		Expiry:          timePtr(t.Expiry),
		RefreshExpiry:   timePtr(t.RefreshExpiry),
		IssuedAt:        timePtr(t.IssuedAt),
		ClockSkew:       int64(t.ClockSkew / time.Second),
		Identity:        t.identity,
		IDToken:         t.IDToken,
		RefreshSentAt:   timePtr(t.fate.sentAt),
		RefreshResent:   t.fate.resent,
		RefreshRejected: t.fate.rejected,
	})
}

// DecodeToken parses bytes written by [EncodeToken] in this or any earlier
// version. Anything else gives an error wrapping [ErrUnreadableToken]; the
// error never quotes the input, which may hold secrets.
func DecodeToken(b []byte) (*Token, error) {
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, errorf("%w: %s", ErrUnreadableToken, describeJSONError(err))
	}
	switch {
	case st.Version < 1:
		return nil, errorf("%w: missing format version", ErrUnreadableToken)
	case st.Version > encodingVersion:
		return nil, errorfJoin("%w: %w", ErrUnreadableToken, newerFormat(st.Version))
	case st.AccessToken == "" && st.RefreshToken == "":
		return nil, errorf("%w: no access or refresh token", ErrUnreadableToken)
	}
	return &Token{
		AccessToken:   st.AccessToken,
		TokenType:     st.TokenType,
		RefreshToken:  st.RefreshToken,
		IDToken:       st.IDToken,
		Expiry:        timeVal(st.Expiry),
		RefreshExpiry: timeVal(st.RefreshExpiry),
		IssuedAt:      timeVal(st.IssuedAt),
		ClockSkew:     time.Duration(st.ClockSkew) * time.Second,
		identity:      st.Identity,
		fate: fate{
			sentAt:   timeVal(st.RefreshSentAt),
			resent:   st.RefreshResent,
			rejected: st.RefreshRejected,
		},
	}, nil
}

// newerFormat is a stored token written in a format version newer than
// this program reads; it matches storage.ErrNewerFormat.
type newerFormat int

func (v newerFormat) Error() string {
	return fmt.Sprintf("format version %d is newer than this program understands (%d)", int(v), encodingVersion)
}

func (newerFormat) Is(target error) bool { return target == storage.ErrNewerFormat }

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
