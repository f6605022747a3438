// Package enginetest starts throw-away database engines (PostgreSQL, Redis)
// for tests. Only _test.go files import it.
//
// Each engine has two entry points:
//
//   - a private server a test owns (StartPostgres), which the test may crash,
//     restart or reconfigure, stopped by t.Cleanup;
//   - an address shared by the whole test process (PostgresDSN): the one CI
//     gives in an environment variable (TOKENREFRESH_TEST_POSTGRES_URL), or
//     else a private server started once on first use.
//
// When the engine's binaries are missing the helpers skip the test with a
// message saying how to run it, unless the engine's "require" variable is
// set (TOKENREFRESH_POSTGRES_TEST=require, as CI and .ci/with-postgres set
// it): then they fail it.
//
// A shared server outlives the test that started it, so a test package that
// uses one stops it from TestMain:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		enginetest.StopAll()
//		os.Exit(code)
//	}
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// stoppers holds the stop functions of the shared servers; mu guards it.
var (
	mu       sync.Mutex
	stoppers []func()
)

// onStopAll registers stop to run on [StopAll].
func onStopAll(stop func()) {
	mu.Lock()
	defer mu.Unlock()
	stoppers = append(stoppers, stop)
}

// StopAll stops every shared server this process started (see
// [PostgresDSN]) and removes its files. A test package's TestMain calls it
// after m.Run; servers a test started itself are stopped by its cleanup.
// StopAll is safe to call when nothing was started, and more than once.
func StopAll() {
	mu.Lock()
	stops := stoppers
	stoppers = nil
	mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// shared is a server shared by the whole test process: started on first
// use, stopped by StopAll (or stop); a later get starts a new one.
type shared[S interface{ destroy() }] struct {
	mu         sync.Mutex
	srv        S
	running    bool
	registered bool
}

// get returns the shared server, starting it with start (which may skip
// or fail tb) when none runs.
func (sh *shared[S]) get(tb testing.TB, start func(testing.TB) S) S {
	tb.Helper()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.running {
		return sh.srv
	}
	sh.srv, sh.running = start(tb), true
	if !sh.registered {
		sh.registered = true
		onStopAll(sh.stop)
	}
	return sh.srv
}

// stop stops the shared server, if one runs, and removes its files.
func (sh *shared[S]) stop() {
	sh.mu.Lock()
	s, running := sh.srv, sh.running
	var zero S
	sh.srv, sh.running, sh.registered = zero, false, false
	sh.mu.Unlock()
	if running {
		s.destroy()
	}
}

// unavailable skips tb because an engine is missing (why), or fails it
// when the engine's variable requireEnv says "require"; message says how
// to run the test.
func unavailable(tb testing.TB, requireEnv, message string, why error) {
	tb.Helper()
	if os.Getenv(requireEnv) == "require" {
		tb.Fatalf("%s=require: %s (%v)", requireEnv, message, why)
	}
	tb.Skipf("%s (%v)", message, why)
}

// started starts cmd and returns a channel closed once it has been waited
// for.
func started(cmd *exec.Cmd) (<-chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return exited, nil
}

// errExited: the server's process ended before it became ready.
var errExited = errors.New("exited during start-up")

// waitReady polls ready every poll until it succeeds. It fails with an
// error wrapping errExited when the server's process ends first (exited
// closes), or when wait passes; the error quotes the tail of the server's
// log at logPath.
func waitReady(name, logPath string, exited <-chan struct{}, wait, poll time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		if err := ready(ctx); err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s %w; its log:\n%s", name, errExited, tail(logPath))
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready within %v; its log:\n%s", name, wait, tail(logPath))
		case <-time.After(poll):
		}
	}
}
