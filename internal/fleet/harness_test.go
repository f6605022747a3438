package fleet

import (
	"context"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fleet is a run of worker processes sharing one session: the harness
// starts them, kills, pauses and replaces them, and restarts the engine.
type fleet struct {
	t   *testing.T
	env []string // the workers' environment

	// mu guards procs, every worker ever started.
	mu    sync.Mutex
	procs []*proc

	// What the harness did, and whether each disruption fell inside a
	// rotation window (see window).
	kills, killsInWindow, stopsInWindow int
	aimedKills                          int
	restartInWindow                     bool
	outage                              time.Duration // engine down, crash to accepting connections
	crashTook                           time.Duration // of which the crash (the rest is the start)
	restarted                           time.Time     // when the engine accepted connections again
}

// start starts one more worker.
func (f *fleet) start() *proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := startProc(f.t, len(f.procs), "worker", f.env)
	f.procs = append(f.procs, p)
	return p
}

func (f *fleet) all() []*proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*proc(nil), f.procs...)
}

// live returns the workers that are ready, neither killed nor paused, and
// running.
func (f *fleet) live() []*proc {
	var ps []*proc
	for _, p := range f.all() {
		p.mu.Lock()
		ok := p.ready && !p.killed && !p.stopped
		p.mu.Unlock()
		select {
		case <-p.exited:
			ok = false
		default:
		}
		if ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// inWindow returns a live worker inside a rotation window, waiting up to d
// for one, or nil.
func (f *fleet) inWindow(d time.Duration) *proc {
	end := time.Now().Add(d)
	for {
		for _, p := range f.live() {
			p.mu.Lock()
			in := window[p.marker]
			p.mu.Unlock()
			if in {
				return p
			}
		}
		if !time.Now().Before(end) {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// victim picks a worker to disrupt: when aim is set, one inside a rotation
// window if one shows up within a second and a half (a random worker at a
// random moment is almost never there: the whole fleet rotates once a
// second, for a few tens of milliseconds), else a random live worker.
func (f *fleet) victim(aim bool) (p *proc, aimed bool) {
	if aim {
		if p := f.inWindow(1500 * time.Millisecond); p != nil {
			return p, true
		}
	}
	ps := f.live()
	if len(ps) == 0 {
		return nil, false
	}
	return ps[rand.IntN(len(ps))], false
}

// kill SIGKILLs a worker and starts its replacement. Every other kill is
// aimed at a rotation window.
func (f *fleet) kill() {
	p, aimed := f.victim(f.kills%2 == 1)
	if p == nil {
		f.t.Errorf("no live worker to kill")
		return
	}
	last, history := p.kill(f.t)
	f.t.Logf("kill %d: worker %d (aimed: %v), last rotation markers %q", f.kills, p.id, aimed, history)
	f.kills++
	if aimed {
		f.aimedKills++
	}
	if window[last] {
		f.killsInWindow++
	}
	f.start()
}

// pause SIGSTOPs a worker (one inside a rotation window if possible: the
// lock holder) for d, longer than the lock lease, then SIGCONTs it.
func (f *fleet) pause(d time.Duration) {
	p, _ := f.victim(true)
	if p == nil {
		f.t.Errorf("no live worker to pause")
		return
	}
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	_ = p.signal(syscall.SIGSTOP)
	time.Sleep(50 * time.Millisecond) // read what it wrote before it stopped
	p.mu.Lock()
	if window[p.marker] {
		f.stopsInWindow++
	}
	p.mu.Unlock()
	time.Sleep(d)
	_ = p.signal(syscall.SIGCONT)
	p.mu.Lock()
	p.stopped = false
	p.mu.Unlock()
}

// engineDown is how long the engine stays down after its crash: longer
// than a token lives, so that every worker's token expires while the
// store cannot be reached, and requests must wait for it to come back.
const engineDown = accessTTL + time.Second

// restart crashes the engine and, engineDown later, starts it again.
func (f *fleet) restart(crash, start func(testing.TB)) {
	f.restartInWindow = f.inWindow(0) != nil
	t0 := time.Now()
	crash(f.t)
	f.crashTook = time.Since(t0)
	time.Sleep(engineDown)
	start(f.t)
	f.restarted = time.Now()
	f.outage = f.restarted.Sub(t0)
	f.restartInWindow = f.restartInWindow || f.inWindow(0) != nil
}

// stopAll SIGTERMs every running worker (each closes its Source and says
// "done") and waits for them, up to 30 s in all.
func (f *fleet) stopAll() {
	ps := f.all()
	// A replacement that is still starting has no SIGTERM handler yet.
	end := time.Now().Add(30 * time.Second)
	for _, p := range ps {
		for !p.isReady() && !p.isKilled() && time.Now().Before(end) {
			select {
			case <-p.exited:
			case <-time.After(10 * time.Millisecond):
				continue
			}
			break
		}
	}
	for _, p := range ps {
		_ = p.signal(syscall.SIGCONT)
		_ = p.signal(syscall.SIGTERM)
	}
	end = time.Now().Add(30 * time.Second)
	for _, p := range ps {
		if !p.wait(time.Until(end)) {
			f.t.Errorf("worker %d still running 30 s after SIGTERM; stderr: %s", p.id, p.stderr.String())
		}
	}
}

// figures adds up the requests of killed and surviving workers, and checks
// that every worker that was not killed finished cleanly.
func (f *fleet) figures(rep *report) {
	var lastSurvivorFailure time.Time
	for _, p := range f.all() {
		p.mu.Lock()
		killed, ok, failed, first, done, lastFailure := p.killed, p.ok, p.failed, p.firstFailure, p.done, p.lastFailure
		p.mu.Unlock()
		rep.Requests += ok + failed
		if killed {
			rep.FailedKilled += failed
			continue
		}
		rep.FailedSurvivors += failed
		if failed > 0 && lastFailure.After(lastSurvivorFailure) {
			lastSurvivorFailure = lastFailure
		}
		if failed > 0 && rep.FirstFailure == "" {
			rep.FirstFailure = first
		}
		if !done || !p.exitedCleanly() {
			rep.Unclean++
			f.t.Errorf("worker %d did not finish cleanly (done=%v, %v); stderr: %s", p.id, done, p.waitErr, p.stderr.String())
		}
	}
	rep.Started = len(f.all())
	if !lastSurvivorFailure.IsZero() && !f.restarted.IsZero() {
		rep.LastFailureAfterRestart = lastSurvivorFailure.Sub(f.restarted).Seconds()
	}
}

// run drives the fleet for d: every 2-4 s one disruption, alternately a
// random and an aimed kill, except the first past 30% of d, a pause, and
// the first past 60%, an engine restart. It keeps them apart so that each
// one's effect on the fleet is its own.
func (f *fleet) run(d, pauseFor time.Duration, crash, start func(testing.TB)) {
	begin := time.Now()
	paused, restarted := false, false
	for {
		wait := 2*time.Second + rand.N(2*time.Second)
		if time.Since(begin)+wait >= d {
			time.Sleep(max(d-time.Since(begin), 0))
			return
		}
		time.Sleep(wait)
		switch at := time.Since(begin); {
		case !paused && at >= d*3/10:
			f.pause(pauseFor)
			paused = true
		case !restarted && at >= d*6/10:
			f.restart(crash, start)
			restarted = true
		default:
			f.kill()
		}
	}
}

// seed logs the fleet's session in once, into the store, and checks at the
// end that it continues by refresh.
func seed(ctx context.Context, t *testing.T, cfg storeConfig, auth string, renew bool) {
	t.Helper()
	store, closeStore, err := cfg.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	src := newSource(auth, store, nil)
	tok, err := src.Token(ctx)
	if err == nil && renew {
		_, err = src.Renew(ctx, tok)
	}
	if err == nil {
		err = src.Close(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}
