// Package auto opens the best available token store: the OS keyring when it
// answers, else files, and always reports which one it chose, so an
// application can tell its user that tokens went to plain files. There is no
// silent fallback.
package auto

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/storage/keyring"
)

// Mode says which backend [Open] may use.
type Mode string

// The modes [Open] understands.
const (
	// ModeAuto uses the keyring if a bounded probe shows it answers,
	// else files. It is what the zero Mode means.
	ModeAuto Mode = "auto"
	// ModeKeyring uses the keyring and fails if it is unavailable.
	ModeKeyring Mode = "keyring"
	// ModeFile uses files only.
	ModeFile Mode = "file"
)

// Backend names the store [Open] returned.
type Backend string

// The backends [Open] can choose.
const (
	BackendKeyring Backend = "keyring" // a *keyring.Store
	BackendFile    Backend = "file"    // a *file.Store
)

// DefaultProbeTimeout bounds the keyring probe when
// [Options.ProbeTimeout] is zero.
const DefaultProbeTimeout = 3 * time.Second

// Options configure [Open]. The zero value is usable: mode auto, service
// "tokenrefresh", directory tokenrefresh in [os.UserConfigDir].
type Options struct {
	// Service is the keyring service name; "" means "tokenrefresh".
	Service string
	// Dir holds the token files in file mode and the lock files in
	// keyring mode; "" means tokenrefresh in [os.UserConfigDir]. It is
	// created with mode 0700 when needed.
	Dir string
	// Mode picks the backend; "" means [ModeAuto].
	Mode Mode
	// ProbeTimeout bounds the keyring probe; 0 means
	// [DefaultProbeTimeout]. Later calls of a returned keyring store use
	// keyring.DefaultTimeout.
	ProbeTimeout time.Duration
	// OnFallback, if not nil, is called synchronously when ModeAuto
	// chooses files, with the reason the keyring was not used, so the
	// application can explain the choice.
	OnFallback func(reason error)
}

// Open returns a store chosen by opts.Mode and the backend it is. In
// ModeAuto it probes the keyring with one bounded lookup and falls back to
// files when the keyring is unavailable, calling opts.OnFallback; a caller
// cancelling ctx during the probe gets ctx's error, not a fallback. In
// ModeKeyring an unavailable keyring is an error (wrapping
// *keyring.UnavailableError). The returned store implements
// [storage.Locker] and needs no closing.
func Open(ctx context.Context, opts Options) (storage.Store, Backend, error) {
	mode := opts.Mode
	if mode == "" {
		mode = ModeAuto
	}
	if mode != ModeAuto && mode != ModeKeyring && mode != ModeFile {
		return nil, "", fmt.Errorf("auto: unknown storage mode %q (want auto, keyring or file)", mode)
	}
	dir, err := opts.dir()
	if err != nil {
		return nil, "", err
	}
	if mode == ModeFile {
		return openFile(dir)
	}
	kr := keyring.New(opts.service())
	kr.Timeout = opts.probeTimeout()
	kr.LockDir = dir
	err = kr.Available(ctx)
	kr.Timeout = 0 // the probe's bound; later calls get the default
	switch {
	case err == nil:
		return kr, BackendKeyring, nil
	case ctx.Err() != nil:
		return nil, "", fmt.Errorf("auto: %w", ctx.Err())
	case mode == ModeKeyring:
		return nil, "", fmt.Errorf("auto: %w", err)
	}
	var ue *keyring.UnavailableError
	if !errors.As(err, &ue) {
		return nil, "", fmt.Errorf("auto: %w", err)
	}
	if opts.OnFallback != nil {
		opts.OnFallback(err)
	}
	return openFile(dir)
}

func openFile(dir string) (storage.Store, Backend, error) {
	s, err := file.New(dir)
	if err != nil {
		return nil, "", fmt.Errorf("auto: %w", err)
	}
	return s, BackendFile, nil
}

func (o Options) service() string {
	if o.Service == "" {
		return "tokenrefresh"
	}
	return o.Service
}

func (o Options) probeTimeout() time.Duration {
	if o.ProbeTimeout <= 0 {
		return DefaultProbeTimeout
	}
	return o.ProbeTimeout
}

func (o Options) dir() (string, error) {
	if o.Dir != "" {
		return o.Dir, nil
	}
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("auto: no directory for tokens: %w", err)
	}
	return filepath.Join(cfg, "tokenrefresh"), nil
}
