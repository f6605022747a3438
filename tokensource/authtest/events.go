package authtest

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxEvents is how many events a Server keeps: the most recent ones.
const maxEvents = 10_000

// EventKind says what an [Event] records.
type EventKind string

// The kinds of [Event].
const (
	// EventLogin: a login succeeded (Issued is the new refresh token; for
	// an authorization code or device code exchange, Label is the code
	// and Reason says which).
	EventLogin EventKind = "login"
	// EventLoginFailed: a login was refused for bad credentials.
	EventLoginFailed EventKind = "login-failed"
	// EventClientCredentials: the client_credentials grant issued an
	// access token (User is the client id, Issued the access token; each
	// issue is a family of its own, with no refresh token).
	EventClientCredentials EventKind = "client-credentials"
	// EventAuthorizationCode: the authorization endpoint approved a
	// request and issued a code (User approved; Label is the code).
	EventAuthorizationCode EventKind = "authorization-code"
	// EventDeviceCode: the device authorization endpoint issued a device
	// code (User is the client; Label is the device code).
	EventDeviceCode EventKind = "device-code"
	// EventDeviceApproved: a device code was approved (User approved).
	EventDeviceApproved EventKind = "device-approved"
	// EventAccessDenied: an authorization request or a device code was
	// denied.
	EventAccessDenied EventKind = "access-denied"
	// EventRefresh: a refresh succeeded (Label is the refresh token
	// presented, Issued the new one when rotated).
	EventRefresh EventKind = "refresh"
	// EventGraceReuse: a spent refresh token came back within
	// [Options].ReuseGrace and was answered with a fresh pair.
	EventGraceReuse EventKind = "grace-reuse"
	// EventReuseDetected: a spent refresh token came back; its whole
	// family was revoked.
	EventReuseDetected EventKind = "reuse-detected"
	// EventRefreshRejected: a refresh was refused (the refresh token was
	// expired, revoked or unknown; Reason says which).
	EventRefreshRejected EventKind = "refresh-rejected"
	// EventRejected: the protected API refused a request (Status 401 or
	// 403; Label is the access token sent, if any).
	EventRejected EventKind = "rejected"
	// EventRevoked: tokens were revoked by a logout, /oauth2/revoke,
	// [Server.RevokeAccessTokens] or [Server.RevokeAll] (Reason says which).
	EventRevoked EventKind = "revoked"
	// EventClientRejected: /oauth2/* refused the client's credentials.
	EventClientRejected EventKind = "client-rejected"
	// EventInjected: a request was answered by an injected fault or
	// redirect instead of being served (Reason names the path).
	EventInjected EventKind = "injected"
	// EventReplyLost: a login or refresh was processed and its answer lost
	// on purpose ([Server.ProcessThenFail]).
	EventReplyLost EventKind = "reply-lost"
)

// Event is one entry of the server's event log ([Server.Events]). It never
// holds a token: tokens appear as labels ([TokenLabel]), so a test can
// compare them with TokenLabel(tok) of the tokens it holds.
type Event struct {
	// Time is the server's clock ([Options].Now plus ClockOffset).
	Time time.Time `json:"time"`
	// Kind says what happened.
	Kind EventKind `json:"kind"`
	// Via is how it happened: "json" (the JSON API), "oauth2"
	// (/oauth2/*), "api" (the protected API), "debug" (a /debug/ call) or
	// "" (a method call on the Server).
	Via string `json:"via,omitempty"`
	// User is the user concerned, when known.
	User string `json:"user,omitempty"`
	// Family numbers the token family (one per login), when known.
	Family uint64 `json:"family,omitempty"`
	// Label is the label of the token presented, if any.
	Label string `json:"label,omitempty"`
	// Issued is the label of the refresh token issued, or of the access
	// token when no refresh token was (DisableRotation).
	Issued string `json:"issued,omitempty"`
	// Status is the HTTP status answered; 0 for a method call or a
	// connection closed without an answer.
	Status int `json:"status,omitempty"`
	// Reason explains a refusal, a revocation or an injection.
	Reason string `json:"reason,omitempty"`
}

// String formats e on one line, such as
// `12:00:05.000 reuse-detected via=json user=alice family=1
// label=rt:1a2b3c4d5e6f status=401 reason="refresh token reused"`. It never
// contains a token.
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format("15:04:05.000"))
	b.WriteString(" ")
	b.WriteString(string(e.Kind))
	for _, kv := range e.fields() {
		b.WriteString(" ")
		b.WriteString(kv[0])
		b.WriteString("=")
		v := kv[1]
		if strings.ContainsAny(v, " \"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
	}
	return b.String()
}

// fields lists e's non-empty fields after Time and Kind.
func (e Event) fields() [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("via", e.Via)
	add("user", e.User)
	if e.Family != 0 {
		add("family", strconv.FormatUint(e.Family, 10))
	}
	add("label", e.Label)
	add("issued", e.Issued)
	if e.Status != 0 {
		add("status", strconv.Itoa(e.Status))
	}
	add("reason", e.Reason)
	return out
}

// eventLog holds the most recent events.
type eventLog struct {
	// mu guards list.
	mu   sync.Mutex
	list []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) >= maxEvents {
		n := copy(l.list, l.list[maxEvents/4:])
		l.list = l.list[:n]
	}
	l.list = append(l.list, e)
}

// Events returns the event log, oldest first: what was issued, refreshed,
// rejected and revoked, and why. Only the most recent 10,000 events are
// kept. The slice is the caller's. Events never hold a token value.
func (s *Server) Events() []Event {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return append([]Event(nil), s.events.list...)
}

// record stamps e with the server's clock, appends it to the log and logs
// it to Options.Logger.
func (s *Server) record(e Event) {
	e.Time = s.now()
	s.events.add(e)
	level := slog.LevelInfo
	switch e.Kind {
	case EventReuseDetected:
		level = slog.LevelWarn
	case EventRejected, EventInjected:
		level = slog.LevelDebug
	}
	if !s.log.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	for _, kv := range e.fields() {
		attrs = append(attrs, slog.String(kv[0], kv[1]))
	}
	s.log.LogAttrs(context.Background(), level, "authtest: "+string(e.Kind), attrs...)
}
