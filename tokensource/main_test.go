package tokensource

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
)

// TestMain fails the package's tests if any goroutine outlives them, once
// the database servers the fleet-store benchmarks started are stopped.
func TestMain(m *testing.M) {
	code := m.Run()
	enginetest.StopAll()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
