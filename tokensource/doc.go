// Package tokensource obtains, refreshes and persists the tokens that
// authorize HTTP requests.
//
// # Pieces
//
// A [Token] is an access token with its refresh token and expiry times. A
// [Grant] talks to an authorization server: [PasswordGrant] speaks standard
// OAuth2 token endpoints (RFC 6749) and [JSONGrant] in-house JSON login and
// refresh APIs; [ClientCredentialsGrant] serves jobs with no user, and the
// [Interactive] grants log a human in where passwords are not allowed:
// [AuthCodeGrant] through a browser (PKCE, loopback redirect) and
// [DeviceGrant] with a code entered on another device. [Discover] finds a
// server's endpoints from its issuer URL. A [Source] sits in front of a
// Grant and a storage.Store and hands out valid tokens to any number of
// goroutines; [SeedRefreshToken] starts its session from a refresh token
// obtained elsewhere.
//
// # The failure ladder
//
// A valid token is returned from memory. Inside its early-refresh margin it
// is still returned while one background refresh replaces it. An expired
// token, or one a server rejected ([Source.Renew]), makes callers wait for a
// single shared refresh. A dead refresh token (rejected, expired or already
// used) leads to logging in again with the Grant's credentials, and when that
// is impossible to an error satisfying errors.Is(err, [ErrReauthRequired]).
//
// # States
//
// A [Source] is a small state machine. Its state is one immutable snapshot
// behind one atomic pointer, which the hot path (a valid token) reads
// without a lock; every transition stores a new snapshot under one mutex.
// The states:
//
//   - empty: no token in memory yet. Token starts the shared refresh
//     (trigger startup): adopt the stored token, refresh it, or log in.
//   - valid: a token is published. Token returns it. Once it is inside its
//     early-refresh margin, the first caller starts a background refresh
//     (trigger early) and everyone keeps getting the valid token meanwhile.
//     Once it has expired by the clock, callers wait for the shared
//     refresh (trigger expired).
//   - rejected: Renew was told that a server refused the published token.
//     It is not handed out again; callers wait for the shared refresh
//     (trigger renew).
//   - logged out: after Logout. Token and Renew fail with [ErrLoggedOut]
//     until Login starts a new session.
//
// Two flags ride along: dirty (the published token could not be saved to
// the Store; a background save retries, and Close tries once more) and a
// pause (no background work before a given time, set while a refresh runs
// and for a while after one failed).
//
// The transitions: a flight (the one refresh, login or save that runs at a
// time) ends with exactly one transition that publishes its token (valid,
// not dirty unless its save failed), sets or clears the pause, and wakes
// its waiters; a failed flight leaves the token as it was. Renew moves
// valid to rejected. Logout moves any state to logged out and increments
// the session's epoch; a flight of an older epoch publishes and saves
// nothing (its store writes pass the same gate as Logout). Login moves
// logged out back to empty and runs a login flight.
//
// # Persistence
//
// Every new token is saved to the Store before any caller sees it, in the
// versioned JSON of [EncodeToken]. When the Store also implements
// storage.Locker, refreshes are serialized across processes: the refresh
// re-reads the store under the lock and adopts a token that another process
// already rotated, so processes sharing one login never spend the same
// refresh token twice.
//
// A Store shared by a fleet of machines (storage/postgres, storage/redis)
// also implements storage.Versioned: every write of a refresh is then a
// compare-and-set on the generation of the record it read. A process whose
// lock lapsed (paused, cut off, the engine restarted) finds that the store
// moved on: it sends nothing, writes nothing and adopts the newer session,
// so the store never goes backwards. A refresh that finds another
// process's refresh in flight waits for its answer (up to
// Source.InFlightWait) and adopts it, instead of logging in at once.
//
// # A refresh token is sent at most once
//
// Before a refresh token is sent, a Store that implements
// storage.Reserver reserves the save of the answer (when it cannot, the
// refresh is not sent: [ErrStoreUnwritable]), and an intent ("this refresh
// token was sent at T") is written to the Store. The save of the new token
// clears it. A request is re-sent only when it provably did not reach the
// server (no connection, not written, or 429/503); any other failure after
// sending leaves the outcome unknown ([ErrRefreshOutcomeUnknown]) and the
// token is never sent again: the Source logs in. A rejection by the server
// is recorded in the Store too. Whoever finds an intent or a rejection (this
// process, another process, the next run) logs in instead of sending that
// refresh token, except once inside a server's reuse grace period
// ([ReuseGracer]).
//
// The window that remains: a process killed after the server rotated the
// refresh token and before the fsync'd save of its successor completed
// leaves the intent behind; the next process spends one login (or, without
// credentials, needs a human). Only a server's reuse grace period removes
// that cost.
//
// # Secrets
//
// Tokens redact themselves when printed, logged or marshaled; errors carry
// no token, password or client secret.
package tokensource
