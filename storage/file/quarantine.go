package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

var _ storage.Quarantiner = (*Store)(nil)

// Quarantine moves the data file of key aside, to
// <hash>.json.corrupt-<unix nanoseconds> in the same directory (mode kept,
// never read again by the Store), so that a new value can be stored while
// the old bytes stay available for inspection. It returns the new path, or
// an error wrapping [storage.ErrNotFound] when there is no data file. Call
// it while holding key's [Store.Lock] when other processes share the
// directory.
func (s *Store) Quarantine(ctx context.Context, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("file: quarantine: %w", err)
	}
	path := s.Path(key)
	aside := path + ".corrupt-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	err := os.Rename(path, aside)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("file: quarantine: %w", storage.ErrNotFound)
	}
	if err != nil {
		return "", opError("quarantine", err)
	}
	if err := syncDir(s.dir); err != nil {
		return aside, opError("quarantine", err)
	}
	return aside, nil
}
