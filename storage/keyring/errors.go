package keyring

import (
	"fmt"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// UnavailableError reports that the OS keyring could not be used: no Secret
// Service, no session bus, a locked keyring without a way to unlock it, or no
// answer within the deadline (then Err wraps [context.DeadlineExceeded]).
// Callers that can fall back to another store should say so to the user; see
// storage/auto.
type UnavailableError struct {
	Op  string // "get", "put", "delete" or "probe"
	Err error  // the cause, from go-keyring or the deadline
}

// Error names the operation and the cause; it never includes stored values.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("keyring: %s: keyring unavailable: %v", e.Op, e.Err)
}

// Unwrap returns Err.
func (e *UnavailableError) Unwrap() error { return e.Err }

// ErrCorrupt is wrapped by errors for keyring items this package cannot
// decode: written by something else, or a chunked value with a missing or
// damaged chunk. It also matches [storage.ErrCorrupt].
var ErrCorrupt = fmt.Errorf("keyring: stored value is corrupt (%w)", storage.ErrCorrupt)
