package fleet

import (
	"context"
	"flag"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/enginetest"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

var (
	runFor  = flag.Duration("fleet.duration", 30*time.Second, "how long each fleet test drives its workers")
	workers = flag.Int("fleet.workers", 16, "worker processes in each fleet test")
)

const (
	// accessTTL is the access tokens' lifetime, in whole seconds as token
	// responses state it.
	accessTTL = 2 * time.Second
	// lockLease is the stores' lock lease: a paused holder loses the lock
	// after it (PostgreSQL ends its idle transaction; Redis lets the key
	// expire), a killed one at once (PostgreSQL) or after it (Redis).
	lockLease = time.Second
	// pace is a worker's pause between requests: 16 race-instrumented
	// workers at 25 requests a second each fit on 2 cores beside the
	// engine and the authorization server.
	pace = 40 * time.Millisecond
)

func TestFleetPostgres(t *testing.T) {
	srv := enginetest.StartPostgres(t)
	fleetTest(t, "postgres", storeConfig{engine: "postgres", url: srv.DSN(), ns: "fleet_tokens", lease: lockLease},
		srv.Crash, srv.Start)
}

func TestFleetRedis(t *testing.T) {
	srv := enginetest.StartRedis(t, enginetest.RedisConfig{})
	fleetTest(t, "redis", storeConfig{engine: "redis", url: srv.URL(), ns: "fleet:", lease: lockLease},
		func(tb testing.TB) { srv.Kill(tb) }, srv.Start)
}

// fleetTest runs the fleet on the store cfg names for runFor, then checks
// the outcome: no failed request outside killed workers, no reuse
// detection, refreshes near the minimum, logins only for disruptions that
// fell inside a rotation window, every surviving worker finished cleanly,
// and the stored session continues by refresh.
func fleetTest(t *testing.T, engine string, cfg storeConfig, crash, start func(testing.TB)) {
	if *runFor < 30*time.Second || *workers < 16 {
		t.Logf("NOTE: -fleet.duration=%v -fleet.workers=%d is below the proof's 30 s and 16 workers", *runFor, *workers)
	}
	auth := authtest.NewServer(t, authtest.Options{AccessTTL: accessTTL})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	seed(ctx, t, cfg, auth.URL, false)
	begin := time.Now()

	f := &fleet{t: t, env: append(cfg.env(), envAuth+"="+auth.URL, envPace+"="+pace.String())}
	for range *workers {
		f.start()
	}
	for _, p := range f.all() {
		if _, err := p.await("ready", time.Minute); err != nil {
			t.Fatalf("worker %d: %v", p.id, err)
		}
	}
	f.run(*runFor, 2*lockLease, crash, start)
	f.stopAll()
	elapsed := time.Since(begin)

	rep := report{Engine: engine, Workers: *workers, Seconds: elapsed.Seconds(), Kills: f.kills,
		AimedKills: f.aimedKills, KillsInWindow: f.killsInWindow, StopsInWindow: f.stopsInWindow,
		RestartInWindow: f.restartInWindow, OutageSeconds: f.outage.Seconds(), CrashSeconds: f.crashTook.Seconds()}
	f.figures(&rep)
	serverFigures(&rep, auth.Counters())
	// The minimum: a fleet that never makes a request wait for a token
	// refreshes once per token lifetime minus the early-refresh margin
	// (the token is replaced when the margin starts), counted from the
	// seeding login to the end: elapsed / (2 s - 1 s). Logins (after a
	// kill in the window) restart that cycle and only lower the count.
	// Allowed: 1.2 times that plus 3, for the last cycle's rounding, one
	// paused worker that resumes and sends the refresh token it had
	// marked before it stopped (the server rotates it, its save conflicts
	// and it adopts the newer session), and one refresh answered while the
	// engine restarted whose save failed.
	rep.MinRefreshes = elapsed.Seconds() / (accessTTL - earlyRefresh).Seconds()
	// Logins: the seeding one, one per kill (only those in a rotation
	// window may cost one), one for the paused worker (its refresh is
	// given up for lost after InFlightWait) and one for the engine
	// restart (a refresh whose answer could not be saved).
	rep.LoginBound = 1 + rep.Kills + 1 + 1
	rep.LoginTarget = 1 + rep.KillsInWindow + rep.StopsInWindow
	if rep.RestartInWindow {
		rep.LoginTarget++
	}
	logReport(t, rep)
	writeReport(t, "fleet_"+engine, rep)

	if rep.FailedSurvivors > 0 {
		t.Errorf("%d requests failed in workers that were not killed, the last %.2f s after the engine restarted; first: %s",
			rep.FailedSurvivors, rep.LastFailureAfterRestart, rep.FirstFailure)
	}
	if rep.Reuses != 0 || rep.FailedRefreshes != 0 {
		t.Errorf("server saw %d reuse detections and %d refused refreshes; want 0", rep.Reuses, rep.FailedRefreshes)
	}
	if float64(rep.Refreshes) > 1.2*rep.MinRefreshes+3 {
		t.Errorf("%d refreshes, more than 1.2 x %.1f + 3", rep.Refreshes, rep.MinRefreshes)
	}
	if rep.Logins > int64(rep.LoginBound) {
		t.Errorf("%d logins, more than %d (1 + %d kills + pause + restart)", rep.Logins, rep.LoginBound, rep.Kills)
	}
	if rep.Requests < *workers*int(runFor.Seconds()) {
		t.Errorf("only %d requests made", rep.Requests)
	}
	// The session the fleet left continues by refresh, without a login.
	seed(ctx, t, cfg, auth.URL, true)
	if st := auth.Counters(); st.Logins != rep.Logins || st.Reuses != 0 {
		t.Errorf("continuing the stored session took %d logins and %d reuse detections; want none", st.Logins-rep.Logins, st.Reuses)
	}
}

// TestFleetPostgresTakeover measures how soon a process waiting for the
// PostgreSQL lock gets it after its holder was SIGKILLed. The lease is the
// default 10 s: the server releases a dead holder's lock when its
// connection drops, whatever the lease.
func TestFleetPostgresTakeover(t *testing.T) {
	t.Parallel()
	takeover(t, storeConfig{engine: "postgres", url: enginetest.PostgresDSN(t), ns: "fleet_takeover"})
}

// TestFleetRedisTakeover is TestFleetPostgresTakeover on Redis, where the
// dead holder's lock lasts until its lease (1 s) runs out.
func TestFleetRedisTakeover(t *testing.T) {
	t.Parallel()
	takeover(t, storeConfig{engine: "redis", url: enginetest.RedisURL(t), ns: "fleet-takeover:", lease: lockLease})
}

// takeover runs three rounds: a holder takes the lock, a waiter waits for
// it, the holder is SIGKILLed, and the waiter reports when it got the lock.
func takeover(t *testing.T, cfg storeConfig) {
	const rounds = 3
	var times []string
	id := 0
	for round := range rounds {
		holder := startProc(t, id, "holder", cfg.env())
		if _, err := holder.await("locked", 30*time.Second); err != nil {
			t.Fatalf("round %d: holder: %v", round, err)
		}
		waiter := startProc(t, id+1, "waiter", cfg.env())
		id += 2
		if _, err := waiter.await("waiting", 30*time.Second); err != nil {
			t.Fatalf("round %d: waiter: %v", round, err)
		}
		// Let the waiter's Lock call get under way; it must not succeed.
		if l, err := waiter.await("locked", 300*time.Millisecond); err == nil {
			t.Fatalf("round %d: the waiter took the lock while the holder held it (%s)", round, l)
		}
		killed := time.Now()
		_ = holder.signal(syscall.SIGKILL)
		l, err := waiter.await("locked", 20*time.Second)
		if err != nil {
			t.Fatalf("round %d: the waiter did not take the lock within 20 s of the holder's kill: %v", round, err)
		}
		ns, err := strconv.ParseInt(strings.TrimPrefix(l, "locked "), 10, 64)
		if err != nil {
			t.Fatalf("round %d: bad line %q", round, l)
		}
		times = append(times, time.Unix(0, ns).Sub(killed).Round(time.Millisecond).String())
		if !waiter.wait(20*time.Second) || !waiter.exitedCleanly() {
			t.Fatalf("round %d: waiter did not finish cleanly: %s", round, waiter.stderr.String())
		}
		holder.wait(15 * time.Second)
	}
	lease := cfg.lease
	if lease == 0 {
		lease = 10 * time.Second
	}
	t.Logf("%s: lock taken over %s after the holder's SIGKILL (lease %v)", cfg.engine, strings.Join(times, ", "), lease)
	writeReport(t, "takeover_"+cfg.engine, map[string]any{"engine": cfg.engine, "lease": lease.String(), "takeover": times})
}
