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

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

type stEnv struct {
	clock *fakeclock.Clock
	grant *stGrant
	store *stStore
	ev    *stEvents
	src   *Source
}

func newSTEnv(t *testing.T) *stEnv {
	t.Helper()
	clock := newSTClock()
	e := &stEnv{clock: clock, grant: newSTGrant(clock.Now), store: newSTStore(), ev: &stEvents{}}
	e.src = &Source{Grant: e.grant, Store: e.store, Key: "k", Now: clock.Now, OnEvent: e.ev.add}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.src.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

func stToken(t *testing.T, s *Source) *Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := s.Token(ctx)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func TestSourceStartupLogsInAndSaves(t *testing.T) {
	e := newSTEnv(t)
	tok := stToken(t, e.src)
	if logins, refreshes, _ := e.grant.counts(); logins != 1 || refreshes != 0 {
		t.Fatalf("logins, refreshes = %d, %d, want 1, 0", logins, refreshes)
	}
	if got := e.store.token("k"); got == nil || got.RefreshToken != tok.RefreshToken {
		t.Fatalf("stored token = %v, want the one handed out", got)
	}
	if tok.AuthorizationValue() != "Bearer "+tok.AccessToken {
		t.Errorf("AuthorizationValue = %q, want canonical Bearer scheme", tok.AuthorizationValue())
	}
	if again := stToken(t, e.src); again != tok {
		t.Errorf("second Token() returned a different token without need")
	}
}

func TestSourceStartupFromStore(t *testing.T) {
	tests := []struct {
		name                   string
		age                    time.Duration // how long ago the stored token was issued
		rttl                   time.Duration
		wantLogins, wantRefrsh int
	}{
		{"valid access token", time.Minute, 12 * time.Hour, 0, 0},
		{"inside margin", 14*time.Minute + 30*time.Second, 12 * time.Hour, 0, 1},
		{"expired access token", time.Hour, 12 * time.Hour, 0, 1},
		{"expired refresh token", 13 * time.Hour, 12 * time.Hour, 1, 0},
		{"refresh token about to expire", 12*time.Hour - time.Second, 12 * time.Hour, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSTEnv(t)
			seed := &Source{Grant: e.grant, Store: e.store, Key: "k", Now: e.clock.Now}
			stToken(t, seed) // one login, saved
			e.clock.Advance(tc.age)
			before, _, _ := e.grant.counts()
			tok := stToken(t, e.src)
			logins, refreshes, _ := e.grant.counts()
			if logins-before != tc.wantLogins || refreshes != tc.wantRefrsh {
				t.Fatalf("logins, refreshes = %d, %d, want %d, %d", logins-before, refreshes, tc.wantLogins, tc.wantRefrsh)
			}
			if tok.ExpiredAt(e.clock.Now()) {
				t.Errorf("Token() returned an expired token")
			}
		})
	}
}

func TestSourceEarlyRefreshDoesNotBlock(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	gate, started := e.grant.block()
	e.clock.Advance(14*time.Minute + 30*time.Second) // margin is 1 minute for 15 minutes

	// The refresh is blocked on gate, so these calls can only return if they
	// do not wait for it.
	for range 50 {
		if tok := stToken(t, e.src); tok != first {
			t.Fatalf("Token() inside the margin returned a new token before the refresh finished")
		}
	}
	<-started
	close(gate)
	if err := e.src.drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("refreshes = %d, want exactly 1 background refresh", refreshes)
	}
	if tok := stToken(t, e.src); tok == first {
		t.Fatalf("Token() after the background refresh still returns the old token")
	}
}

func TestSourceExpiredSingleFlight(t *testing.T) {
	e := newSTEnv(t)
	stToken(t, e.src)
	e.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	toks := make([]*Token, 200)
	for i := range toks {
		wg.Go(func() { toks[i] = stToken(t, e.src) })
	}
	wg.Wait()
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("refreshes = %d, want 1", refreshes)
	}
	for _, tok := range toks {
		if tok != toks[0] {
			t.Fatalf("waiters got different tokens")
		}
	}
}

func TestSourceRenew(t *testing.T) {
	e := newSTEnv(t)
	old := stToken(t, e.src)
	ctx := context.Background()

	var wg sync.WaitGroup
	got := make([]*Token, 1000)
	for i := range got {
		wg.Go(func() {
			tok, err := e.src.Renew(ctx, old)
			if err != nil {
				t.Errorf("Renew: %v", err)
			}
			got[i] = tok
		})
	}
	wg.Wait()
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("1000 Renew(old): refreshes = %d, want 1", refreshes)
	}
	fresh := got[0]
	if fresh == old || fresh == nil {
		t.Fatalf("Renew returned the rejected token")
	}
	// A stale rejection (someone already renewed) costs no refresh.
	tok, err := e.src.Renew(ctx, old)
	if err != nil || tok != fresh {
		t.Fatalf("Renew(stale) = %v, %v, want the current token", tok, err)
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("stale Renew refreshed: refreshes = %d", refreshes)
	}
	// The rejected token is never handed out by Token either.
	if tok := stToken(t, e.src); tok == old {
		t.Fatalf("Token() returned the rejected token")
	}
}

func TestSourceWaiterCanGiveUp(t *testing.T) {
	e := newSTEnv(t)
	stToken(t, e.src)
	gate, started := e.grant.block()
	e.clock.Advance(time.Hour)

	patient := make(chan error, 1)
	go func() {
		_, err := e.src.Token(context.Background())
		patient <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.src.Token(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("impatient Token() = %v, want context.DeadlineExceeded", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := e.src.Renew(cctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Renew() = %v, want context.Canceled", err)
	}
	close(gate)
	if err := <-patient; err != nil {
		t.Fatalf("patient waiter failed after another gave up: %v", err)
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("refreshes = %d, want 1", refreshes)
	}
}

func TestSourcePersistsBeforePublishing(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	var published []string
	e.store.onPut = func(value []byte) {
		// At the moment of saving, callers must still see the old token.
		published = append(published, e.src.st.Load().tok.AccessToken)
	}
	e.clock.Advance(time.Hour)
	second := stToken(t, e.src)
	// Two saves: the intent before the refresh is sent, then the answer.
	if len(published) != 2 || published[0] != first.AccessToken || published[1] != first.AccessToken {
		t.Fatalf("token published before it was saved (published at save time: %v)", published)
	}
	if got := e.store.token("k"); got.RefreshToken != second.RefreshToken || second.RefreshToken == first.RefreshToken {
		t.Fatalf("store holds %v, want the rotated refresh token", got)
	}
}

func TestSourceSaveFailure(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	// The intent before the refresh is written; the save of the answer
	// fails (a store whose failure nothing could foresee).
	e.store.onPut = func([]byte) {
		e.store.mu.Lock()
		e.store.putErr = errors.New("disk full")
		e.store.onPut = nil
		e.store.mu.Unlock()
	}
	e.clock.Advance(time.Hour)

	second := stToken(t, e.src)
	if second == first {
		t.Fatal("no new token after expiry")
	}
	if n := e.ev.count(EventSaveFailed); n != 1 {
		t.Fatalf("save_failed events = %d, want 1", n)
	}
	ctx := context.Background()
	if err := e.src.Close(ctx); err == nil {
		t.Fatal("Close with an unsaved token returned nil")
	}
	e.store.mu.Lock()
	e.store.putErr = nil
	e.store.mu.Unlock()
	e.clock.Advance(time.Minute) // past the retry pause
	if tok := stToken(t, e.src); tok != second {
		t.Fatal("retrying the save replaced the token")
	}
	if err := e.src.drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.store.token("k"); got == nil || got.RefreshToken != second.RefreshToken {
		t.Fatalf("after the save retry the store holds %v, want the new token", got)
	}
	if e.ev.count(EventSaveFinished) != 1 {
		t.Fatalf("saved events = %d, want 1", e.ev.count(EventSaveFinished))
	}
}

func TestSourceRejectedRefreshLogsIn(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.live[first.RefreshToken] = false }) // revoked server-side
	e.clock.Advance(time.Hour)
	tok := stToken(t, e.src)
	logins, refreshes, _ := e.grant.counts()
	if logins != 2 || refreshes != 1 {
		t.Fatalf("logins, refreshes = %d, %d, want 2, 1", logins, refreshes)
	}
	// The rejected refresh token is never sent again, even if the store
	// still held it.
	e.clock.Advance(time.Hour)
	stToken(t, e.src)
	if _, refreshes, reuses := e.grant.counts(); refreshes != 2 || reuses != 0 {
		t.Fatalf("refreshes, reuses = %d, %d, want 2, 0", refreshes, reuses)
	}
	_ = tok
}

func TestSourceReauthRequired(t *testing.T) {
	e := newSTEnv(t)
	e.grant.noCreds = true
	_, err := e.src.Token(context.Background())
	if !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("Token() without credentials = %v, want ErrReauthRequired", err)
	}
}

func TestSourceKeepsRefreshTokenWhenOmitted(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.omitRotate = true })
	e.clock.Advance(time.Hour)
	second := stToken(t, e.src)
	if second.RefreshToken != first.RefreshToken || second.RefreshExpiry != first.RefreshExpiry {
		t.Fatalf("refresh token after a non-rotating refresh = %v, want the old one kept", second)
	}
}

func TestSourceTransientFailureKeepsValidToken(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.refreshErr = errors.New("503") })
	e.clock.Advance(14*time.Minute + 30*time.Second)
	for range 20 {
		if tok := stToken(t, e.src); tok != first {
			t.Fatal("valid token replaced during a failing refresh")
		}
		if err := e.src.drain(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, refreshes, _ := e.grant.counts(); refreshes != 1 {
		t.Fatalf("refreshes = %d, want 1: failed background refreshes must back off", refreshes)
	}
	e.clock.Advance(time.Minute) // expired now: callers see the error
	if _, err := e.src.Token(context.Background()); err == nil || errors.Is(err, ErrReauthRequired) {
		t.Fatalf("Token() after expiry with a failing endpoint = %v, want a transient error", err)
	}
}

func TestSourceAdoptsAnotherProcessRotation(t *testing.T) {
	clock := newSTClock()
	grant := newSTGrant(clock.Now)
	shared := newSTLockingStore(newSTStore())
	a := &Source{Grant: grant, Store: shared, Key: "k", Now: clock.Now}
	b := &Source{Grant: grant, Store: shared, Key: "k", Now: clock.Now}
	stToken(t, a)
	stToken(t, b) // adopts a's token from the store
	for range 5 {
		clock.Advance(time.Hour)
		ta, tb := stToken(t, a), stToken(t, b)
		if ta.AccessToken != tb.AccessToken {
			t.Fatalf("b did not adopt a's rotated token")
		}
	}
	logins, refreshes, reuses := grant.counts()
	if logins != 1 || refreshes != 5 || reuses != 0 {
		t.Fatalf("logins, refreshes, reuses = %d, %d, %d, want 1, 5, 0", logins, refreshes, reuses)
	}
}

func TestSourceLogoutAndLogin(t *testing.T) {
	e := newSTEnv(t)
	first := stToken(t, e.src)
	if err := e.src.Logout(context.Background()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if e.store.token("k") != nil {
		t.Fatal("Logout left the token in the store")
	}
	if _, err := e.src.Stored(context.Background()); err == nil {
		t.Fatal("Stored after Logout found a token")
	}
	tok, err := e.src.Login(context.Background())
	if err != nil || tok == first {
		t.Fatalf("Login = %v, %v", tok, err)
	}
	if got := e.store.token("k"); got == nil || got.AccessToken != tok.AccessToken {
		t.Fatal("Login did not save its token")
	}
}

func TestSourceRefreshAt(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		life  time.Duration
		early time.Duration
		want  time.Duration // margin before expiry
	}{
		{"15 minutes", 15 * time.Minute, 0, time.Minute},
		{"60 seconds", time.Minute, 0, 12 * time.Second},
		{"2 seconds", 2 * time.Second, 0, 400 * time.Millisecond},
		{"configured", 15 * time.Minute, 10 * time.Second, 10 * time.Second},
		{"configured longer than the lifetime", time.Minute, 5 * time.Minute, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Source{EarlyRefresh: tc.early}
			tok := &Token{AccessToken: "a", IssuedAt: base, Expiry: base.Add(tc.life)}
			got := tok.Expiry.Sub(s.refreshAt(tok, base))
			if got != tc.want {
				t.Errorf("margin = %v, want %v", got, tc.want)
			}
		})
	}
	if at := (&Source{}).refreshAt(&Token{AccessToken: "a"}, base); !at.IsZero() {
		t.Errorf("refreshAt of a token without expiry = %v, want zero", at)
	}
}

func TestSourceCloseWaitsForFlight(t *testing.T) {
	e := newSTEnv(t)
	stToken(t, e.src)
	gate, started := e.grant.block()
	e.clock.Advance(14*time.Minute + 30*time.Second)
	stToken(t, e.src) // starts the background refresh
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.src.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close during a blocked refresh = %v, want DeadlineExceeded", err)
	}
	close(gate)
	if err := e.src.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if e.store.puts != 3 {
		t.Fatalf("store puts = %d, want 3 (login, then the intent and the answer of the refresh Close waited for)", e.store.puts)
	}
}

func TestSourceOAuth2Adapter(t *testing.T) {
	e := newSTEnv(t)
	ts := e.src.OAuth2(context.Background())
	got, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	want := stToken(t, e.src)
	if got.AccessToken != want.AccessToken || got.TokenType != "Bearer" || !got.Expiry.Equal(want.Expiry) {
		t.Fatalf("oauth2 token = %+v, want access token, canonical type and expiry of %v", got, want)
	}
	if got.RefreshToken != "" {
		t.Fatal("the oauth2 adapter exposed the refresh token")
	}
	e.grant.noCreds = true
	e.src.Logout(context.Background())
	if _, err := ts.Token(); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("oauth2 adapter error = %v, want ErrReauthRequired through it", err)
	}
}

func TestSourceLogsNoSecrets(t *testing.T) {
	e := newSTEnv(t)
	var buf bytes.Buffer
	e.src.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	first := stToken(t, e.src)
	// The intent before the refresh is written; the save of the answer
	// fails (a store whose failure nothing could foresee).
	e.store.onPut = func([]byte) {
		e.store.mu.Lock()
		e.store.putErr = errors.New("disk full")
		e.store.onPut = nil
		e.store.mu.Unlock()
	}
	e.clock.Advance(time.Hour)
	second := stToken(t, e.src)
	e.grant.set(func(g *stGrant) { g.live[second.RefreshToken] = false })
	e.store.mu.Lock()
	e.store.putErr = nil
	e.store.mu.Unlock()
	e.clock.Advance(time.Hour)
	stToken(t, e.src)
	out := buf.String()
	for _, secret := range []string{first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains a token (%s):\n%s", secret, out)
		}
	}
	for _, want := range []string{"refresh_started", "refresh_finished", "save_failed", "login"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestSourceErrorsDoNotStutter(t *testing.T) {
	e := newSTEnv(t)
	e.grant.noCreds = true
	_, err := e.src.Token(context.Background())
	if err == nil || strings.Count(err.Error(), "tokensource:") != 1 {
		t.Fatalf("error = %q, want exactly one package prefix", err)
	}
	e2 := newSTEnv(t)
	e2.grant.set(func(g *stGrant) { g.refreshErr = errors.New("connection reset") })
	stToken(t, e2.src)
	e2.clock.Advance(time.Hour)
	_, err = e2.src.Token(context.Background())
	if err == nil || err.Error() != "tokensource: refresh: connection reset" {
		t.Fatalf("error = %q, want the grant's error with one prefix and its op", err)
	}
}
