package transport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

// session is a real Source with a JSON grant against an authtest server on
// loopback, and a client whose Transport is ours.
type session struct {
	demo   *authtest.Server
	url    string
	src    *tokensource.Source
	client *http.Client
}

func newSession(tb testing.TB, opts authtest.Options) *session {
	tb.Helper()
	demo := authtest.NewServer(tb, opts)
	grantBase := &http.Transport{}
	tb.Cleanup(grantBase.CloseIdleConnections)
	src := &tokensource.Source{Grant: &tokensource.JSONGrant{
		LoginURL:   demo.LoginURL(),
		RefreshURL: demo.RefreshURL(),
		Username:   "alice",
		Password:   "wonderland",
		HTTPClient: &http.Client{Transport: grantBase, Timeout: 30 * time.Second},
	}}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := src.Close(ctx); err != nil {
			tb.Errorf("Source.Close() = %v", err)
		}
	})
	base := &http.Transport{MaxIdleConnsPerHost: 64}
	tb.Cleanup(base.CloseIdleConnections)
	return &session{
		demo:   demo,
		url:    demo.URL,
		src:    src,
		client: &http.Client{Transport: &transport.Transport{Source: src, Base: base}},
	}
}

func (s *session) get(tb testing.TB, path string) (int, string) {
	tb.Helper()
	resp, err := s.client.Get(s.url + path)
	if err != nil {
		tb.Errorf("GET %s: %v", path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestIntegrationRevokedTokenStormRefreshesOnce(t *testing.T) {
	s := newSession(t, authtest.Options{})
	if status, _ := s.get(t, "/api/profile"); status != 200 {
		t.Fatalf("first GET = %d, want 200", status)
	}
	s.demo.RevokeAccessTokens()

	const n = 1000
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i], _ = s.get(t, "/api/items") })
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("request %d: status %d, want 200", i, st)
		}
	}
	st := s.demo.Counters()
	if st.Refreshes != 1 || st.Logins != 1 || st.Reuses != 0 {
		t.Errorf("server stats: refreshes %d, logins %d, reuse detections %d; want 1, 1, 0",
			st.Refreshes, st.Logins, st.Reuses)
	}
}

// TestIntegrationDeadlineShorterThanSlowRefresh: while a slow refresh
// runs, a request whose deadline is shorter gives up at its deadline with
// context.DeadlineExceeded; the refresh goes on and the patient requests
// all succeed on that one refresh.
func TestIntegrationDeadlineShorterThanSlowRefresh(t *testing.T) {
	s := newSession(t, authtest.Options{})
	if status, _ := s.get(t, "/api/profile"); status != 200 {
		t.Fatalf("first GET = %d, want 200", status)
	}
	s.demo.SetDelay(s.demo.RefreshURL(), time.Second)
	s.demo.RevokeAccessTokens()

	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() { statuses[i], _ = s.get(t, "/api/items") })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/api/profile", nil)
	resp, err := s.client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient request: err = %v, want context.DeadlineExceeded", err)
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("patient request %d: status %d, want 200", i, st)
		}
	}
	if st := s.demo.Counters(); st.Refreshes != 1 || st.Logins != 1 {
		t.Errorf("server stats: refreshes %d, logins %d; want 1, 1", st.Refreshes, st.Logins)
	}
}

func TestIntegrationPostReplayedAfterRevocation(t *testing.T) {
	s := newSession(t, authtest.Options{})
	if status, _ := s.get(t, "/api/profile"); status != 200 {
		t.Fatalf("first GET = %d, want 200", status)
	}
	s.demo.RevokeAccessTokens()
	resp, err := s.client.Post(s.url+"/api/echo", "application/json", strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != `{"n":1}` {
		t.Errorf("POST = %d %q, want 200 with the body echoed", resp.StatusCode, b)
	}
	if got := s.demo.Counters().Refreshes; got != 1 {
		t.Errorf("refreshes = %d, want 1", got)
	}
}

func TestIntegrationRevokedSessionLogsInAgain(t *testing.T) {
	s := newSession(t, authtest.Options{Users: map[string]string{"alice": "wonderland"}})
	if status, _ := s.get(t, "/api/profile"); status != 200 {
		t.Fatalf("first GET = %d, want 200", status)
	}
	s.demo.RevokeAll()
	// The refresh token is dead; the grant logs in again with its
	// credentials, so the request still succeeds.
	if status, _ := s.get(t, "/api/profile"); status != 200 {
		t.Fatalf("GET after RevokeAll = %d, want 200 via re-login", status)
	}
	if st := s.demo.Counters(); st.Logins != 2 {
		t.Errorf("logins = %d, want 2", st.Logins)
	}
}

func TestIntegrationWrongPasswordIsReauthRequired(t *testing.T) {
	s := newSession(t, authtest.Options{Users: map[string]string{"alice": "other"}})
	_, err := s.client.Get(s.url + "/api/profile")
	if !errors.Is(err, tokensource.ErrReauthRequired) {
		t.Fatalf("GET error = %v, want ErrReauthRequired", err)
	}
	if strings.Contains(err.Error(), "wonderland") {
		t.Errorf("error %q contains the password", err)
	}
}
