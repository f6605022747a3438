package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/tokenrefresh/tokenrefresh/internal/filelock"
	"github.com/tokenrefresh/tokenrefresh/storage"
)

var (
	_ storage.Store  = (*Store)(nil)
	_ storage.Locker = (*Store)(nil)
)

// maxFileSize bounds what Get reads, so a runaway file cannot exhaust memory.
const maxFileSize = 64 << 20

// Store keeps values in files in one directory. Create it with [New]; the
// zero value is not usable. It is safe for concurrent use by multiple
// goroutines and by several processes sharing the directory. It holds no open
// files between calls, so there is nothing to close; only a reservation from
// [Store.Reserve] holds a file open, until its Commit or Release.
type Store struct {
	dir   string
	locks filelock.Locker
}

// New returns a Store for dir, creating it (and its parents) with mode 0700
// if it does not exist. It fails if dir is empty or is not a directory, and
// with a [*PermissionError] if another user owns dir or group or others can
// write it: they could replace token files. A directory others can only
// read or search (0755, 0711) is accepted, since the token files in it are
// 0600 and named by hashes; New creates 0700 directories.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("file: empty directory name")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, opError("create token directory", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("file: %s is not a directory", dir)
	}
	if err := checkDir(dir, fi); err != nil {
		return nil, err
	}
	return &Store{dir: dir}, nil
}

// checkDir refuses a token directory other users can change: one another
// user owns, or one group or others can write.
func checkDir(dir string, fi fs.FileInfo) error {
	if !checkPerms() {
		return nil
	}
	if uid, ok := owner(fi); ok && uid != os.Geteuid() {
		return &PermissionError{Path: dir, Mode: fi.Mode(), OtherOwner: true, Owner: uid}
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &PermissionError{Path: dir, Mode: fi.Mode()}
	}
	return nil
}

// Dir returns the absolute path of the Store's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the data file that holds key, whether or not it exists. It is
// meant for messages to the user ("token stored in ...").
func (s *Store) Path(key string) string { return filepath.Join(s.dir, s.name(key)+".json") }

func (s *Store) name(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// errSymlink is the cause in a [CorruptError] for a data file that is a
// symbolic link.
var errSymlink = errors.New("a symbolic link, not a regular file; refusing to follow it")

// checkPerms reports whether Unix permission bits mean anything here.
func checkPerms() bool { return runtime.GOOS != "windows" }

// Get returns the value under key, or an error wrapping [storage.ErrNotFound]
// when there is no file for it. It returns a [*PermissionError] for a file
// other users can access, and a [*CorruptError] or [*VersionError] for one it
// cannot decode. It never reads through a symbolic link: a data file that is
// one is a [*CorruptError]. It fails with ctx.Err() when ctx is already done.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: get: %w", err)
	}
	path := s.Path(key)
	f, err := openNoFollow(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file: get: %w", storage.ErrNotFound)
	}
	if errors.Is(err, errSymlink) {
		return nil, &CorruptError{Path: path, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("file: get: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("file: get: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &CorruptError{Path: path, Err: errors.New("not a regular file")}
	}
	if checkPerms() && fi.Mode().Perm()&0o077 != 0 {
		return nil, &PermissionError{Path: path, Mode: fi.Mode()}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("file: get: read %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, &CorruptError{Path: path, Err: fmt.Errorf("larger than %d bytes", maxFileSize)}
	}
	return decode(path, key, b)
}

// Put stores value under key, atomically and durably: when it returns nil
// the new value survives a crash, and at no point can a reader see a partial
// value. It fails with ctx.Err() when ctx is already done. An error caused
// by a full disk or quota wraps [storage.ErrNoSpace], one caused by a
// read-only file system [storage.ErrReadOnly]; a denied write matches
// fs.ErrPermission.
//
// When other processes share the directory, Put a key while holding its
// [Store.Lock] (see "Leftover temporary files" in the package doc).
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: put: %w", err)
	}
	b, err := encode(key, value)
	if err != nil {
		return fmt.Errorf("file: put: %w", err)
	}
	tmp, err := s.createTemp(key)
	if err != nil {
		return opError("put", err)
	}
	if err := s.install(tmp, key, b); err != nil {
		return opError("put", err)
	}
	return nil
}

// createTemp creates a temporary file for a write of key (mode 0600), beside
// its data file, and marks it in use (see lockTemp).
func (s *Store) createTemp(key string) (*os.File, error) {
	f, err := os.CreateTemp(s.dir, s.tempPrefix(key)+"*")
	if err != nil {
		return nil, err
	}
	lockTemp(f)
	return f, nil
}

// tempPrefix is how the name of every temporary file for key's data file
// begins.
func (s *Store) tempPrefix(key string) string { return "." + s.name(key) + ".json.tmp-" }

// install makes b the value of key: it writes b at the start of tmp (a file
// from createTemp, perhaps preallocated), cuts tmp to len(b), flushes and
// closes it, renames it over the data file and makes the rename durable.
// On failure tmp is closed and removed. Overwriting preallocated space and
// shrinking a file take no new space.
func (s *Store) install(tmp *os.File, key string, b []byte) error {
	_, err := tmp.WriteAt(b, 0)
	if err == nil {
		err = tmp.Truncate(int64(len(b)))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.Path(key))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return syncDir(s.dir)
}

// syncDir makes a rename or removal in dir durable. Windows cannot fsync a
// directory; its rename is durable on return.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Delete removes the data file of key; a missing file is not an error. The
// lock file stays. It fails with ctx.Err() when ctx is already done; other
// errors are mapped as Put maps them.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: delete: %w", err)
	}
	err := os.Remove(s.Path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		return opError("delete", err)
	}
	return nil
}
