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

import "sync"

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
