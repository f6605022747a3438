package tokensource

import "time"

// EventKind names something that happened to a session. Every kind is
// "<subject>_<what happened>": refresh_*, login_*, token_*, save_*, and the
// transport's request_*.
type EventKind string

// Event kinds reported to [Source.OnEvent] (and, for the transport's own
// events, to the transport's hook).
const (
	EventRefreshStarted  EventKind = "refresh_started"
	EventRefreshFinished EventKind = "refresh_finished"
	EventRefreshFailed   EventKind = "refresh_failed"
	// EventRefreshOutcomeUnknown: a refresh token was sent and no usable
	// answer was saved (a lost answer, or a process that died after
	// sending): the server may have spent it, so it is not sent again.
	EventRefreshOutcomeUnknown EventKind = "refresh_outcome_unknown"

	EventLoginStarted  EventKind = "login_started"
	EventLoginFinished EventKind = "login_finished"
	EventLoginFailed   EventKind = "login_failed"

	// EventTokenAdopted: a newer token than the one in memory was found
	// in the Store (another process rotated) and is used instead of
	// refreshing.
	EventTokenAdopted EventKind = "token_adopted"

	// EventSaveFailed: the Store did not accept a new token; it is used
	// from memory and the save is retried.
	EventSaveFailed EventKind = "save_failed"
	// EventSaveFinished: a save that had failed finally succeeded.
	EventSaveFinished EventKind = "save_finished"

	// EventRequestUnauthorized: the transport intercepted a 401 it will
	// renew the token for.
	EventRequestUnauthorized EventKind = "request_unauthorized"
	// EventRequestRejectedAgain: a token a renewal produced was rejected
	// before any server accepted it, so renewing again would not help
	// (a wrong audience, a misconfigured API): the 401 is returned and
	// renewals pause (see Source.Renew).
	EventRequestRejectedAgain EventKind = "request_rejected_again"
	// EventRequestStaleRetry: the transport retried a request that was
	// answered 401 with a token that was already newer than the rejected
	// one, without a refresh.
	EventRequestStaleRetry EventKind = "request_stale_retry"
)

// Older names of event kinds.
const (
	// Deprecated: use EventLoginFinished.
	EventLogin = EventLoginFinished
	// Deprecated: use EventTokenAdopted.
	EventAdopted = EventTokenAdopted
	// Deprecated: use EventSaveFinished.
	EventSaved = EventSaveFinished
	// Deprecated: use EventRequestUnauthorized.
	EventUnauthorized = EventRequestUnauthorized
	// Deprecated: use EventRequestStaleRetry.
	EventStaleRetry = EventRequestStaleRetry
)

// Trigger says why a refresh or login ran.
type Trigger string

// Triggers. An Event carries one of these, or none (see Event.Trigger).
const (
	TriggerStartup Trigger = "startup" // no usable token yet
	TriggerEarly   Trigger = "early"   // inside the early-refresh margin
	TriggerExpired Trigger = "expired" // the access token expired by the clock
	TriggerRenew   Trigger = "renew"   // a server rejected the token (401)
	TriggerCaller  Trigger = "caller"  // the program called Source.Login
)

// Event describes one step of a session's life. It never holds a token.
type Event struct {
	Kind EventKind
	// Trigger says why the refresh or login ran; empty for save events
	// and for a token adopted while a failed save was being retried.
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
