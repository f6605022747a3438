package tokenendpoint

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxLifetime is the longest token lifetime accepted from a server; more is
// taken for a unit mistake (milliseconds sent as seconds) and read as
// unknown.
const maxLifetime = 10 * 365 * 24 * time.Hour

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
	if len(parts) != 3 || len(parts[1]) > MaxResponseBytes {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	v, err := DecodeJSON(payload)
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
