package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

// ErrLockLost is wrapped by the error of an unlock function when the lock
// may have been released before it: the server ended the lock's session
// (the lease ran out while the holder was silent, an administrator
// terminated it) or the engine restarted. Another process may have held the
// lock meanwhile; writes made under it were still fenced by their
// CompareAndSwap.
var ErrLockLost = errors.New("postgres: lock lost")

// errUnlocked is returned by an unlock function called a second time.
var errUnlocked = errors.New("postgres: unlock called more than once")

// SQLSTATE codes mapped to storage sentinels.
const (
	codeReadOnly = "25006" // read_only_sql_transaction: a hot standby, default_transaction_read_only
	codeDiskFull = "53100" // disk_full
)

// wrap prefixes err with the package and operation, maps engine conditions
// to storage sentinels, and makes sure a cancelled or expired ctx is
// visible to errors.Is. pgx errors carry no password: connection errors
// name host, user and database only.
func wrap(ctx context.Context, op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeReadOnly:
			return fmt.Errorf("postgres: %s: %w: %w", op, storage.ErrReadOnly, err)
		case codeDiskFull:
			return fmt.Errorf("postgres: %s: %w: %w", op, storage.ErrNoSpace, err)
		}
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("postgres: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// retryRead runs a read once more when it failed for a reason other than
// an answer from the server (typically a connection that died while idle in
// the pool because the engine restarted), so a restart costs readers
// nothing. Writes are never retried here: a failed write may have landed,
// which the caller tells with GetVersioned.
func retryRead(ctx context.Context, read func() error) error {
	err := read()
	var pe *pgconn.PgError
	if err != nil && ctx.Err() == nil && !errors.Is(err, pgx.ErrNoRows) && !errors.As(err, &pe) {
		err = read()
	}
	return err
}
