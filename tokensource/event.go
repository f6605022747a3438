package tokensource

import "time"

// EventKind names something that happened to a session.
type EventKind string

// Event kinds reported to [Source.OnEvent] (and, for the transport's own
// events, to the transport's hook).
const (
	EventRefreshStarted  EventKind = "refresh_started"
	EventRefreshFinished EventKind = "refresh_finished"
	EventRefreshFailed   EventKind = "refresh_failed"
	EventLogin           EventKind = "login"
	EventLoginFailed     EventKind = "login_failed"
	// EventRefreshOutcomeUnknown: a refresh token was sent and no usable
	// answer was saved (a lost answer, or a process that died after
	// sending): the server may have spent it, so it is not sent again.
	EventRefreshOutcomeUnknown EventKind = "refresh_outcome_unknown"
	EventAdopted               EventKind = "adopted"     // a newer token was found in the Store
	EventSaveFailed            EventKind = "save_failed" // the Store did not accept a new token
	EventSaved                 EventKind = "saved"       // a pending save finally succeeded
	EventUnauthorized          EventKind = "unauthorized"
	EventStaleRetry            EventKind = "stale_retry"
)

// Trigger says why a refresh ran.
type Trigger string

// Refresh triggers.
const (
	TriggerStartup Trigger = "startup" // no usable token yet
	TriggerEarly   Trigger = "early"   // inside the early-refresh margin
	TriggerExpired Trigger = "expired" // the access token expired by the clock
	TriggerRenew   Trigger = "renew"   // a server rejected the token (401)
)

// Event describes one step of a session's life. It never holds a token.
type Event struct {
	Kind    EventKind
	Trigger Trigger
	// Duration is how long the step took, for finished and failed steps.
	Duration time.Duration
	// Rotated reports that a refresh returned a new refresh token.
	Rotated bool
	// Err is the failure, for failed steps.
	Err error
	// ClockSkew is the server's clock minus ours as measured from the
	// answer's Date header, for finished logins and refreshes; zero when
	// unknown.
	ClockSkew time.Duration
}
