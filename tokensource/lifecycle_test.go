package tokensource

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitUntil polls cond (bounded in count) and fails the test if it never
// holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

// TestLogoutCutsOffARefreshInFlight: a background refresh that was already
// running when Logout started must not bring the session back, with a
// store that has no lock and with no store at all; the refresh token that
// refresh received is revoked too.
func TestLogoutCutsOffARefreshInFlight(t *testing.T) {
	for _, withStore := range []bool{true, false} {
		name := "memory only"
		if withStore {
			name = "store without lock"
		}
		t.Run(name, func(t *testing.T) {
			e := newSTEnv(t)
			rv := &stRevoker{stGrant: e.grant}
			e.src.Grant = rv
			if !withStore {
				e.src.Store = nil
			}
			first := stToken(t, e.src)
			gate, started := e.grant.block()
			e.clock.Advance(14*time.Minute + 30*time.Second)
			stToken(t, e.src) // starts the background refresh
			<-started

			done := make(chan error, 1)
			go func() { done <- e.src.Logout(context.Background()) }()
			waitUntil(t, "Logout cut the session off", func() bool { return e.src.state().loggedOut })
			close(gate) // the refresh gets its answer only now
			if err := <-done; err != nil {
				t.Fatalf("Logout: %v", err)
			}

			if _, err := e.src.Token(context.Background()); !errors.Is(err, ErrLoggedOut) || !errors.Is(err, ErrReauthRequired) {
				t.Fatalf("Token after Logout = %v, want ErrLoggedOut (an ErrReauthRequired)", err)
			}
			if withStore && e.store.token("k") != nil {
				t.Fatal("the refresh in flight saved its token after Logout")
			}
			if _, err := e.src.Stored(context.Background()); err == nil {
				t.Fatal("Stored after Logout found a token")
			}
			_, refreshes, _ := e.grant.counts()
			if refreshes != 1 {
				t.Fatalf("refreshes = %d, want the 1 that was in flight", refreshes)
			}
			if !rv.wasRevoked(first.RefreshToken) {
				t.Error("Logout did not revoke the session's refresh token")
			}
			e.grant.mu.Lock()
			liveLeft := 0
			for _, live := range e.grant.live {
				if live {
					liveLeft++
				}
			}
			e.grant.mu.Unlock()
			if liveLeft != 0 {
				t.Errorf("%d refresh tokens still live on the server: the one the cut-off refresh received was not revoked", liveLeft)
			}

			tok, err := e.src.Login(context.Background())
			if err != nil || tok.AccessToken == first.AccessToken {
				t.Fatalf("Login after Logout = %v, %v", tok, err)
			}
			if got := stToken(t, e.src); got != tok {
				t.Fatal("Token after Login does not return the new session's token")
			}
		})
	}
}

// TestLogoutGivingUpStillCutsOff: a Logout whose context ends while a
// refresh is stuck returns an error, and the stuck refresh still cannot
// save or publish afterwards.
func TestLogoutGivingUpStillCutsOff(t *testing.T) {
	e := newSTEnv(t)
	stToken(t, e.src)
	gate, started := e.grant.block()
	e.clock.Advance(14*time.Minute + 30*time.Second)
	stToken(t, e.src)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.src.Logout(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Logout = %v, want DeadlineExceeded", err)
	}
	close(gate)
	if err := e.src.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if e.store.token("k") != nil {
		t.Fatal("the stuck refresh saved its token after Logout")
	}
	if _, err := e.src.Token(context.Background()); !errors.Is(err, ErrLoggedOut) {
		t.Fatalf("Token = %v, want ErrLoggedOut", err)
	}
}

// humanGrant is a Grant whose Login waits for a human, as a terminal
// prompt inside PasswordFunc would.
type humanGrant struct {
	entered  chan struct{} // receives when Login starts waiting
	returned chan error    // receives what Login returned
}

func (g *humanGrant) Login(ctx context.Context) (*Token, error) {
	g.entered <- struct{}{}
	<-ctx.Done()
	g.returned <- ctx.Err()
	return nil, ctx.Err()
}

func (g *humanGrant) Refresh(ctx context.Context, rt string) (*Token, error) {
	return nil, ErrNoRefreshToken
}

// TestCloseAbandonsALoginWaitingForAHuman: Close with an ending context
// cancels a flight that has sent nothing, so the login waiting for input
// returns instead of running on for the whole RefreshTimeout.
func TestCloseAbandonsALoginWaitingForAHuman(t *testing.T) {
	g := &humanGrant{entered: make(chan struct{}, 1), returned: make(chan error, 1)}
	src := &Source{Grant: g, RefreshTimeout: time.Hour}
	waiter := make(chan error, 1)
	go func() {
		_, err := src.Token(context.Background())
		waiter <- err
	}()
	<-g.entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := src.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-g.returned:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the login's context ended with %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not abandon the login waiting for a human")
	}
	if err := <-waiter; err == nil {
		t.Fatal("the waiter got a token from an abandoned login")
	}
	if err := src.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// documentedTriggers are the Trigger values the package documents.
var documentedTriggers = map[Trigger]bool{
	TriggerStartup: true, TriggerEarly: true, TriggerExpired: true, TriggerRenew: true, TriggerCaller: true,
}

var documentedKinds = map[EventKind]bool{
	EventRefreshStarted: true, EventRefreshFinished: true, EventRefreshFailed: true, EventRefreshOutcomeUnknown: true,
	EventLoginStarted: true, EventLoginFinished: true, EventLoginFailed: true,
	EventTokenAdopted: true, EventSaveFailed: true, EventSaveFinished: true,
}

// TestEventsCarryOnlyDocumentedValues drives a session through startup,
// early refresh, renewal, an explicit login, adoption of another process's
// token and a failed then retried save, and checks every event and log
// record.
func TestEventsCarryOnlyDocumentedValues(t *testing.T) {
	e := newSTEnv(t)
	var logs bytes.Buffer
	e.src.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()

	stToken(t, e.src) // startup: login
	e.clock.Advance(14*time.Minute + 30*time.Second)
	stToken(t, e.src) // early, in the background
	waitUntil(t, "the early refresh finished", func() bool { return e.ev.count(EventRefreshFinished) == 1 })
	tok := stToken(t, e.src)
	if _, err := e.src.Renew(ctx, tok); err != nil { // renew
		t.Fatal(err)
	}
	if _, err := e.src.Login(ctx); err != nil { // caller
		t.Fatal(err)
	}
	// Another process rotates: this one adopts its token.
	other := &Source{Grant: e.grant, Store: e.store, Key: "k", Now: e.clock.Now}
	e.clock.Advance(20 * time.Minute)
	if _, err := other.Token(ctx); err != nil {
		t.Fatal(err)
	}
	stToken(t, e.src)
	// A save that fails (after the intent was written), then succeeds on
	// Close.
	e.store.mu.Lock()
	e.store.onPut = func([]byte) {
		e.store.mu.Lock()
		e.store.putErr = errors.New("disk full")
		e.store.onPut = nil
		e.store.mu.Unlock()
	}
	e.store.mu.Unlock()
	e.clock.Advance(time.Hour)
	stToken(t, e.src)
	e.store.mu.Lock()
	e.store.putErr = nil
	e.store.mu.Unlock()
	if err := e.src.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	seen := map[EventKind]bool{}
	for _, ev := range e.ev.all() {
		seen[ev.Kind] = true
		if !documentedKinds[ev.Kind] {
			t.Errorf("undocumented event kind %q", ev.Kind)
		}
		switch ev.Kind {
		case EventSaveFailed, EventSaveFinished:
			if ev.Trigger != "" {
				t.Errorf("%s carries trigger %q, want none", ev.Kind, ev.Trigger)
			}
		default:
			if !documentedTriggers[ev.Trigger] {
				t.Errorf("%s carries undocumented trigger %q", ev.Kind, ev.Trigger)
			}
		}
	}
	for _, want := range []EventKind{EventLoginStarted, EventLoginFinished, EventRefreshStarted, EventRefreshFinished,
		EventTokenAdopted, EventSaveFailed, EventSaveFinished} {
		if !seen[want] {
			t.Errorf("no %s event; the scenario should produce one", want)
		}
	}
	if out := logs.String(); strings.Contains(out, `trigger=""`) || strings.Contains(out, "trigger=login") || strings.Contains(out, "trigger=save") {
		t.Errorf("log carries an internal or empty trigger:\n%s", out)
	}
}

// TestNoStalePauseAfterASuccess: whatever order concurrent flights finish
// in, a success leaves no background pause behind, so a token that then
// enters its early-refresh margin is refreshed at once. (An older failed
// flight that wrote its pause after a newer one succeeded used to hold
// refreshes off.)
func TestNoStalePauseAfterASuccess(t *testing.T) {
	e := newSTEnv(t)
	stToken(t, e.src)
	ctx := context.Background()
	for i := range 40 {
		fail := i%2 == 0
		e.grant.set(func(g *stGrant) {
			g.refreshErr = nil
			if fail {
				g.refreshErr = errors.New("503")
			}
		})
		e.clock.Advance(time.Hour) // expired: everyone waits for one flight
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.src.Token(ctx)
			}()
		}
		wg.Wait()
		if err := e.src.drain(ctx); err != nil {
			t.Fatal(err)
		}
		if fail {
			continue
		}
		st := e.src.state()
		if !st.notBefore.IsZero() {
			t.Fatalf("round %d: a pause (until %v) is left after a successful refresh", i, st.notBefore)
		}
		_, before, _ := e.grant.counts()
		e.clock.Advance(14*time.Minute + 30*time.Second) // inside the margin
		stToken(t, e.src)
		if err := e.src.drain(ctx); err != nil {
			t.Fatal(err)
		}
		if _, after, _ := e.grant.counts(); after != before+1 {
			t.Fatalf("round %d: entering the margin after a success made %d refreshes, want 1", i, after-before)
		}
	}
}

// browserGrant is an Interactive grant: its Login counts and waits for
// its context, as a browser flow waits for a human.
type browserGrant struct {
	*stGrant
	mu       sync.Mutex
	attempts int
	wait     bool
}

func (g *browserGrant) Interactive() bool { return true }

func (g *browserGrant) Login(ctx context.Context) (*Token, error) {
	g.mu.Lock()
	g.attempts++
	wait := g.wait
	g.mu.Unlock()
	if wait {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return g.stGrant.Login(ctx)
}

// TestInteractiveLoginNeverRunsInTheBackground: with a dead refresh token
// an Interactive grant's login is not started by Token (a batch job gets
// ErrReauthRequired at once); Login runs it on the caller's context.
func TestInteractiveLoginNeverRunsInTheBackground(t *testing.T) {
	e := newSTEnv(t)
	g := &browserGrant{stGrant: e.grant}
	e.src.Grant = g
	ctx := context.Background()
	if _, err := e.src.Token(ctx); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("Token with no session = %v, want ErrReauthRequired", err)
	}
	tok, err := e.src.Login(ctx)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	// The refresh token dies: Token must not start the browser.
	e.grant.set(func(g *stGrant) { g.live[tok.RefreshToken] = false })
	e.clock.Advance(time.Hour)
	if _, err := e.src.Token(ctx); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("Token with a dead refresh token = %v, want ErrReauthRequired", err)
	}
	g.mu.Lock()
	attempts := g.attempts
	g.wait = true
	g.mu.Unlock()
	if attempts != 1 {
		t.Fatalf("interactive logins = %d, want only the explicit one", attempts)
	}
	// An explicit Login ends with its caller's context, even with a long
	// RefreshTimeout.
	e.src.RefreshTimeout = time.Hour
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := e.src.Login(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Login with an ending context = %v, want DeadlineExceeded", err)
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWait()
	if err := e.src.drain(waitCtx); err != nil {
		t.Fatal("the interactive login outlived its caller's context")
	}
}
