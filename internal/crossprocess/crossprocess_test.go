package crossprocess

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// long restores the full runs: 100 kills per grant and 7 s of workers.
var long = flag.Bool("long", false, "run the crash test with 100 kills per grant and the workers for 7 s")

func TestMain(m *testing.M) {
	if mode := os.Getenv(envMode); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// session is a demo server and a file store holding one logged-in session
// of grant ("json" or "oauth2"), shared by the children.
type session struct {
	srv        *authtest.Server
	dir, grant string
}

// setup starts the demo server and logs in once, leaving the session in a
// file store for the children.
func setup(t *testing.T, grant string, accessTTL time.Duration) session {
	t.Helper()
	srv := authtest.NewServer(t, authtest.Options{AccessTTL: accessTTL, RefreshTTL: time.Hour})
	s := session{srv: srv, dir: t.TempDir(), grant: grant}
	src, err := newSource(grant, s.dir, srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// child returns a command that runs the test binary as a child process of
// the session in mode. The grant goes through the command's environment,
// not the test's, so tests with different grants can run in parallel.
func (s session) child(ctx context.Context, mode string, d time.Duration) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envMode+"="+mode, envURL+"="+s.srv.URL, envDir+"="+s.dir,
		envDuration+"="+d.String(), envGrant+"="+s.grant,
		// Under -race a binary exiting 0 first sleeps GORACE's
		// atexit_sleep_ms, 1 s by default; a worker need not.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// TestWorkersShareOneLogin runs 8 processes on one file store for several
// access-token lifetimes against a server that revokes a token family when
// a refresh token is reused: nobody may fail, log in, or trip reuse
// detection.
func TestWorkersShareOneLogin(t *testing.T) {
	t.Parallel()
	// Token responses state lifetimes in whole seconds, so the workers
	// see one second (and refresh every 0.8 s) while the server honours
	// 1.5 s: 3 s of work are about four rotations that the workers race
	// for (-long: 7 s, about nine).
	const (
		workers   = 8
		accessTTL = 1500 * time.Millisecond
	)
	runFor := 3 * time.Second
	if *long {
		runFor = 7 * time.Second
	}
	s := setup(t, "json", accessTTL)
	srv := s.srv
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	reports := make([]workerReport, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			var stderr bytes.Buffer
			cmd := s.child(ctx, "worker", runFor)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("worker %d: %v: %s", i, err, stderr.String())
				return
			}
			if err := json.Unmarshal(out, &reports[i]); err != nil {
				t.Errorf("worker %d: bad report %q: %v", i, out, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	var total workerReport
	for i, r := range reports {
		if r.Failures > 0 || r.Logins > 0 || r.RefreshFailures > 0 {
			t.Errorf("worker %d: %+v", i, r)
		}
		total.Requests += r.Requests
		total.Refreshes += r.Refreshes
		total.Adopted += r.Adopted
	}
	st := srv.Counters()
	if st.Logins != 1 || st.Reuses != 0 || st.FailedRefreshes != 0 {
		t.Errorf("server stats %+v: want 1 login, no reuse, no failed refresh", st)
	}
	if int64(total.Refreshes) != st.Refreshes {
		t.Errorf("workers report %d refreshes, server saw %d", total.Refreshes, st.Refreshes)
	}
	if total.Requests < workers*10 {
		t.Errorf("only %d requests made", total.Requests)
	}
	// One refresh per lifetime is the floor; refreshing a fifth of the
	// lifetime early (so requests never wait) makes it one per 4/5 lifetime.
	floor, early := float64(elapsed)/float64(accessTTL), float64(elapsed)/float64(accessTTL*4/5)
	t.Logf("%d workers, %v: %d requests, 0 failures; server saw %d refreshes (floor %.1f, %.1f with the early margin), %d adoptions of another process's token, %d unauthorized",
		workers, elapsed.Round(time.Millisecond), total.Requests, st.Refreshes, floor, early, total.Adopted, st.Unauthorized)
}

// TestCrashDuringRotation kills a process that refreshes in a loop at
// random moments, with each grant, against a server that revokes the whole
// token family when a spent refresh token is replayed. After every kill the
// store must decode and the next process must continue the session: by
// refresh when the kill fell outside the rotation window, by logging in
// when it fell inside it (from the intent write to the save of the answer:
// the refresh token may be spent), never by replaying a spent refresh
// token. Leftover temporary files of killed writes must be gone at the end.
func TestCrashDuringRotation(t *testing.T) {
	t.Parallel()
	// A kill costs 80-200 ms under -race, most of it starting the
	// race-instrumented child, so the default is 30 kills per grant, with
	// 100 under -long (run it after changing the rotation or the file
	// store). A kill lands a uniform 0-25 ms after the child's first
	// rotation step and a rotation (I i B F S D) takes 5-20 ms, so kills
	// spread over every step: measured on 2 cores, 25-28 of the 30 land
	// inside the rotation window, of which 5-13 while the refresh request
	// is out (B: the refresh token may be spent and its successor not yet
	// saved), 5-11 in the intent write (I) and 6-9 in a save (S: the
	// killed write leaves a temporary file). Each step where a replay or
	// a leftover could start is hit several times per grant and run.
	kills := 30 // per grant
	switch {
	case *long:
		kills = 100
	case testing.Short():
		kills = 10
	}
	// The two loops wait on their children more than they compute, so
	// they run at once beside the workers test: started from goroutines,
	// the subtests do not wait for a -parallel slot (2 on 2 cores).
	var wg sync.WaitGroup
	for _, grant := range []string{"json", "oauth2"} {
		wg.Go(func() {
			t.Run(grant, func(t *testing.T) { crashLoop(t, grant, kills) })
		})
	}
	wg.Wait()
}

// window holds the markers after which a kill leaves the refresh token
// possibly spent and its successor unsaved.
var window = map[string]bool{"I": true, "i": true, "B": true, "F": true, "L": true, "S": true}

func crashLoop(t *testing.T, grant string, kills int) {
	s := setup(t, grant, time.Hour)
	srv, dir := s.srv, s.dir
	store, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	counts := map[string]int{}
	killedAfter := map[string]int{} // the last marker each killed process printed
	prevLast := "D"                 // the set-up process saved its login and exited
	for i := range kills {
		markers := runAndKill(t, ctx, s, time.Duration(rand.IntN(25))*time.Millisecond)
		killedAfter[markers[len(markers)-1]]++
		cont := firstOf(markers, "F", "L")
		switch {
		case cont == "":
			counts["killed before its first refresh"]++
		case cont == "L" && !window[prevLast]:
			t.Errorf("kill %d: logged in again although the previous process was killed outside the rotation window (after %q; markers %v)", i, prevLast, markers)
		case cont == "L":
			counts["continued by re-login"]++
		default:
			counts["continued by refresh"]++
		}
		if l := lastOf(markers, "I", "i", "B", "F", "S", "D", "L"); l != "" {
			prevLast = l
		}
		if window[prevLast] {
			counts["killed inside the rotation window"]++
		}
		b, err := store.Get(ctx, key)
		if err != nil {
			t.Fatalf("kill %d: store unreadable: %v", i, err)
		}
		if _, err := tokensource.DecodeToken(b); err != nil {
			t.Fatalf("kill %d: stored token does not decode: %v", i, err)
		}
	}
	// A last process continues whatever state the kills left.
	src, err := newSource(grant, dir, srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(ctx)
	if err == nil {
		_, err = src.Renew(ctx, tok)
	}
	if err != nil {
		t.Fatalf("session not recoverable after %d kills: %v", kills, err)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := srv.Counters()
	if st.Reuses != 0 || st.MaxPresentations > 1 {
		t.Errorf("server saw %d replays of a spent refresh token and one token presented %d times; want 0 and at most 1",
			st.Reuses, st.MaxPresentations)
	}
	relogins := st.Logins - 1
	if relogins > int64(counts["killed inside the rotation window"]) {
		t.Errorf("%d re-logins for %d kills inside the rotation window", relogins, counts["killed inside the rotation window"])
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("%d temporary files left behind by killed writes: %v", len(leftovers), leftovers)
	}
	t.Logf("%d kills: %v; killed after marker: %v; server: %d refreshes, %d re-logins, %d replays of a spent refresh token, max %d sends of one refresh token; %d leftover temp files",
		kills, counts, killedAfter, st.Refreshes, relogins, st.Reuses, st.MaxPresentations, len(leftovers))
}

// runAndKill starts a crasher, waits until it is ready and has begun its
// first rotation, lets it refresh for d more, kills it with SIGKILL and
// returns the markers it printed. Timing d from the first step rather than
// from "ready" keeps start-up jitter (large under -race on a loaded
// machine) out of where the kill lands.
func runAndKill(t *testing.T, ctx context.Context, s session, d time.Duration) []string {
	t.Helper()
	cmd := s.child(ctx, "crasher", 0)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var markers []string
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("crasher exited before its first rotation (markers %v): %s", markers, stderr.String())
			}
			markers = append(markers, l)
			return l
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("crasher never began a rotation (markers %v)", markers)
			return ""
		}
	}
	for next() != "ready" {
	}
	next() // the first step of the first rotation
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for l := range lines {
		markers = append(markers, l)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("crasher was not killed (%v): %s", err, stderr.String())
	}
	return markers
}

func firstOf(markers []string, want ...string) string {
	for _, m := range markers {
		for _, w := range want {
			if m == w {
				return m
			}
		}
	}
	return ""
}

func lastOf(markers []string, want ...string) string {
	for i := len(markers) - 1; i >= 0; i-- {
		for _, w := range want {
			if markers[i] == w {
				return w
			}
		}
	}
	return ""
}
