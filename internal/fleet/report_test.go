package fleet

import (
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// reportEnv names a JSON file the tests write their figures to.
const reportEnv = "TOKENREFRESH_FLEET_REPORT"

// report is the outcome of one fleet run.
type report struct {
	Engine          string  `json:"engine"`
	Workers         int     `json:"workers"`
	Started         int     `json:"workers_started"`
	Seconds         float64 `json:"seconds"`
	Requests        int     `json:"requests"`
	FailedKilled    int     `json:"failed_requests_killed_workers"`
	FailedSurvivors int     `json:"failed_requests_surviving_workers"`
	FirstFailure    string  `json:"first_failure_surviving,omitempty"`
	// LastFailureAfterRestart is when the last failed request of a
	// surviving worker was read, in seconds after the engine accepted
	// connections again (negative: before).
	LastFailureAfterRestart float64 `json:"last_failure_after_restart_seconds,omitempty"`
	Unclean                 int     `json:"surviving_workers_not_finished_cleanly"`
	Kills                   int     `json:"kills"`
	AimedKills              int     `json:"kills_aimed_at_rotation"`
	KillsInWindow           int     `json:"kills_in_rotation_window"`
	StopsInWindow           int     `json:"pauses_in_rotation_window"`
	RestartInWindow         bool    `json:"restart_in_rotation_window"`
	OutageSeconds           float64 `json:"engine_outage_seconds"`
	CrashSeconds            float64 `json:"engine_stop_seconds"`

	Refreshes        int64   `json:"refreshes"`
	MinRefreshes     float64 `json:"min_refreshes"`
	FailedRefreshes  int64   `json:"failed_refreshes"`
	Reuses           int64   `json:"reuse_detections"`
	MaxPresentations int64   `json:"max_presentations"`
	Logins           int64   `json:"logins"`
	LoginBound       int     `json:"login_bound"`
	LoginTarget      int     `json:"login_target"`
	Unauthorized     int64   `json:"unauthorized"`
}

// serverFigures copies the authorization server's counters into rep.
func serverFigures(rep *report, st authtest.Counters) {
	rep.Refreshes, rep.FailedRefreshes, rep.Reuses = st.Refreshes, st.FailedRefreshes, st.Reuses
	rep.MaxPresentations, rep.Logins, rep.Unauthorized = st.MaxPresentations, st.Logins, st.Unauthorized
}

// logReport logs the figures of one fleet run.
func logReport(t *testing.T, r report) {
	t.Helper()
	t.Logf("%s: %d workers (%d started), %.1f s: %d requests; failed: %d in surviving workers, %d in killed workers",
		r.Engine, r.Workers, r.Started, r.Seconds, r.Requests, r.FailedSurvivors, r.FailedKilled)
	t.Logf("%s: %d kills (%d aimed at a rotation, %d inside a rotation window), pause inside the window: %d, engine restart inside: %v (outage %.2f s, of which %.2f s to stop)",
		r.Engine, r.Kills, r.AimedKills, r.KillsInWindow, r.StopsInWindow, r.RestartInWindow, r.OutageSeconds, r.CrashSeconds)
	t.Logf("%s: server: %d refreshes (minimum %.1f, ratio %.2f), %d reuse detections, %d refused refreshes, max %d presentations of a refresh token, %d logins (target %d = 1 + disruptions inside the window; bound %d), %d unauthorized",
		r.Engine, r.Refreshes, r.MinRefreshes, float64(r.Refreshes)/r.MinRefreshes, r.Reuses, r.FailedRefreshes,
		r.MaxPresentations, r.Logins, r.LoginTarget, r.LoginBound, r.Unauthorized)
	if r.Logins > int64(r.LoginTarget) {
		t.Logf("NOTE: %d logins exceed the target %d", r.Logins, r.LoginTarget)
	}
}

// reportMu serializes writes of the report file.
var reportMu sync.Mutex

// writeReport adds v under name to the JSON object in the file
// $TOKENREFRESH_FLEET_REPORT, when set.
func writeReport(t *testing.T, name string, v any) {
	path := os.Getenv(reportEnv)
	if path == "" {
		return
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	all := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &all)
	}
	all[name] = v
	b, err := json.MarshalIndent(all, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		t.Errorf("write %s: %v", reportEnv, err)
	}
}
