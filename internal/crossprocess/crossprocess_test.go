package crossprocess

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envMode); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// setup starts the demo server and logs in once, leaving the session in a
// file store for the children.
func setup(t *testing.T, accessTTL time.Duration) (*authtest.Server, string) {
	t.Helper()
	srv := authtest.NewServer(t, authtest.Options{AccessTTL: accessTTL, RefreshTTL: time.Hour})
	dir := t.TempDir()
	src, err := newSource(dir, srv.URL, nil, nil)
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
	return srv, dir
}

func child(ctx context.Context, mode, url, dir string, d time.Duration) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envMode+"="+mode, envURL+"="+url, envDir+"="+dir, envDuration+"="+d.String())
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// TestWorkersShareOneLogin runs 8 processes on one file store for several
// access-token lifetimes against a server that revokes a token family when
// a refresh token is reused: nobody may fail, log in, or trip reuse
// detection.
func TestWorkersShareOneLogin(t *testing.T) {
	const (
		workers   = 8
		accessTTL = 1500 * time.Millisecond
		runFor    = 7 * time.Second
	)
	srv, dir := setup(t, accessTTL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	reports := make([]workerReport, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			var stderr bytes.Buffer
			cmd := child(ctx, "worker", srv.URL, dir, runFor)
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
	kills := 100 // per grant
	if testing.Short() {
		kills = 10
	}
	for _, grant := range []string{"json", "oauth2"} {
		t.Run(grant, func(t *testing.T) {
			t.Setenv(envGrant, grant)
			crashLoop(t, kills)
		})
	}
}

// window holds the markers after which a kill leaves the refresh token
// possibly spent and its successor unsaved.
var window = map[string]bool{"I": true, "i": true, "B": true, "F": true, "L": true, "S": true}

func crashLoop(t *testing.T, kills int) {
	srv, dir := setup(t, time.Hour)
	store, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	counts := map[string]int{}
	prevLast := "D" // the set-up process saved its login and exited
	for i := range kills {
		markers := runAndKill(t, ctx, srv.URL, dir, time.Duration(rand.IntN(25))*time.Millisecond)
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
	src, err := newSource(dir, srv.URL, nil, nil)
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
	t.Logf("%d kills: %v; server: %d refreshes, %d re-logins, %d replays of a spent refresh token, max %d sends of one refresh token; %d leftover temp files",
		kills, counts, st.Refreshes, relogins, st.Reuses, st.MaxPresentations, len(leftovers))
}

// runAndKill starts a crasher, waits until it is ready, lets it refresh for
// d, kills it with SIGKILL and returns the markers it printed.
func runAndKill(t *testing.T, ctx context.Context, url, dir string, d time.Duration) []string {
	t.Helper()
	cmd := child(ctx, "crasher", url, dir, 0)
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
	ready := false
	for !ready {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("crasher exited before it was ready: %s", stderr.String())
			}
			markers = append(markers, l)
			ready = l == "ready"
		case <-ctx.Done():
			t.Fatal("crasher never became ready")
		}
	}
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
