package authtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestRotateThenFail checks that a refresh is processed in full (the token
// spent, a successor stored) while the client only sees a 504 or a closed
// connection, on both token APIs.
func TestRotateThenFail(t *testing.T) {
	for _, e := range endpoints() {
		for _, how := range []LostReply{Lost504HTML, Lost504Empty, LostReset} {
			t.Run(fmt.Sprintf("%s/%d", e.name, how), func(t *testing.T) {
				s := NewServer(t, Options{})
				_, rt := e.login(t, s.URL)
				s.RotateThenFail(1, how)
				if how == LostReset {
					got, err := sendRaw(t, e.refreshReq(t, s.URL, rt))
					if len(got) != 0 {
						t.Fatalf("reset connection answered %q (err %v), want nothing", got, err)
					}
				} else {
					r := e.refresh(t, s.URL, rt)
					wantBody := how == Lost504HTML
					if r.status != http.StatusGatewayTimeout || (len(r.body) > 0) != wantBody || r.json != nil {
						t.Fatalf("lost answer = %d %q, want 504 (body %v)", r.status, r.body, wantBody)
					}
				}
				st := s.Counters()
				if st.Refreshes != 1 || st.RefreshRequests != 1 || st.MaxPresentations != 1 || st.LostReplies != 1 ||
					st.Resets != map[bool]int64{true: 1}[how == LostReset] || st.ActiveFamilies != 1 {
					t.Errorf("Counters() = %+v, want 1 refresh processed and lost", st)
				}
				if n := liveRefreshTokens(s); n != 1 {
					t.Errorf("%d live refresh tokens, want the unseen successor only", n)
				}
				// The rule was for one call: a re-send is answered, as reuse.
				if r := e.refresh(t, s.URL, rt); r.str("error_description") != reasonReused {
					t.Errorf("re-sent spent token = %d %s, want reuse detection", r.status, r.body)
				}
				if st := s.Counters(); st.Reuses != 1 || st.MaxPresentations != 2 || st.LostReplies != 1 {
					t.Errorf("after re-send, Counters() = %+v, want 1 reuse, max 2 presentations", st)
				}
				if got := s.Presentations()[TokenLabel(rt)]; got != 2 {
					t.Errorf("Presentations()[rt] = %d, want 2", got)
				}
			})
		}
	}
}

func TestLoginThenFail(t *testing.T) {
	for _, e := range endpoints() {
		t.Run(e.name, func(t *testing.T) {
			s := NewServer(t, Options{})
			s.ProcessThenFail(OpLogin, 2, LostReset)
			s.RotateThenFail(1, Lost504HTML) // armed for refreshes only
			for range 2 {
				if got, _ := sendRaw(t, e.loginReq(t, s.URL, "alice", "wonderland")); len(got) != 0 {
					t.Fatalf("login answered %q, want a reset", got)
				}
			}
			e.login(t, s.URL) // the third is answered
			st := s.Counters()
			if st.Logins != 3 || st.LoginRequests != 3 || st.ActiveFamilies != 3 || st.LostReplies != 2 || st.Resets != 2 {
				t.Errorf("Counters() = %+v, want 3 logins, 2 answers reset", st)
			}
		})
	}
}

func TestProcessThenFailClearAndBadArgs(t *testing.T) {
	s := NewServer(t, Options{})
	_, rt := login(t, s.URL)
	s.RotateThenFail(3, LostReset)
	s.RotateThenFail(0, LostReset) // cleared
	s.ProcessThenFail("bogus", 5, Lost504Empty)
	s.ProcessThenFail(OpLogin, 1, LostReply(42)) // means Lost504HTML
	if r := refresh(t, s.URL, rt); r.status != http.StatusOK {
		t.Errorf("refresh after clearing = %d, want 200", r.status)
	}
	if r := postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wonderland"}`); r.status != http.StatusGatewayTimeout ||
		!strings.Contains(string(r.body), "504") || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("login with an unknown LostReply = %d %q, want the 504 page", r.status, r.body)
	}
}

// TestRotateThenFailConcurrent presents one token from many goroutines
// while losses are armed: every presentation counts, under -race.
func TestRotateThenFailConcurrent(t *testing.T) {
	s := NewServer(t, Options{})
	_, rt := login(t, s.URL)
	const n = 16
	s.RotateThenFail(n/2, Lost504Empty)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _, _ = refreshNoFatal(s.URL, rt) })
	}
	wg.Wait()
	st := s.Counters()
	if st.MaxPresentations != n || st.RefreshRequests != n || st.LostReplies != n/2 || st.Refreshes != 1 || st.Reuses != n-1 {
		t.Errorf("Counters() = %+v, want %d presentations, %d lost, 1 refresh, %d reuses", st, n, n/2, n-1)
	}
}

// TestFailPathWithHeaders checks faults with headers on both APIs, and that
// a faulted refresh leaves its token unspent.
func TestFailPathWithHeaders(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		n     int
	}{
		{"503 Retry-After", Fault{Status: 503, Header: http.Header{"Retry-After": {"1"}}, Body: "<html>busy</html>"}, 1},
		{"429 Retry-After", Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}, Body: `{"error":"slow_down"}`}, 2},
		{"503 bare", Fault{Status: 503}, 1},
		{"500 then ok", Fault{Status: 500, Body: "oops"}, 1},
		{"typed body", Fault{Status: 502, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: "x"}, 1},
	}
	for _, e := range endpoints() {
		for _, tt := range tests {
			t.Run(e.name+"/"+tt.name, func(t *testing.T) {
				s := NewServer(t, Options{})
				_, rt := e.login(t, s.URL)
				s.FailPath(e.refreshPath, tt.n, tt.fault)
				wantRetry := tt.fault.Header.Get("Retry-After")
				if tt.fault.Header != nil {
					tt.fault.Header = tt.fault.Header.Clone()
					tt.fault.Header.Set("Retry-After", "999") // the armed fault is a copy
				}
				for i := range tt.n {
					r := e.refresh(t, s.URL, rt)
					if r.status != tt.fault.Status || string(r.body) != tt.fault.Body {
						t.Fatalf("attempt %d = %d %q, want %d %q", i, r.status, r.body, tt.fault.Status, tt.fault.Body)
					}
					if got := r.header.Get("Retry-After"); got != wantRetry {
						t.Errorf("Retry-After = %q, want %q", got, wantRetry)
					}
					if ct := tt.fault.Header.Get("Content-Type"); ct != "" && r.header.Get("Content-Type") != ct {
						t.Errorf("Content-Type = %q, want %q", r.header.Get("Content-Type"), ct)
					}
				}
				if st := s.Counters(); st.RefreshRequests != 0 || st.InjectedFailures != int64(tt.n) || st.MaxPresentations != 0 {
					t.Errorf("Counters() = %+v, want nothing processed, %d injected", st, tt.n)
				}
				if r := e.refresh(t, s.URL, rt); r.status != http.StatusOK {
					t.Errorf("refresh after the fault = %d %s, want 200 (token not spent)", r.status, r.body)
				}
				if st := s.Counters(); st.Refreshes != 1 || st.MaxPresentations != 1 || st.Reuses != 0 {
					t.Errorf("Counters() = %+v, want 1 refresh, 1 presentation", st)
				}
			})
		}
	}
}

func TestRedirectPath(t *testing.T) {
	for _, e := range endpoints() {
		t.Run(e.name, func(t *testing.T) {
			s := NewServer(t, Options{})
			_, rt := e.login(t, s.URL)
			s.RedirectPath(e.refreshPath, 3, 0, "") // 307 to itself
			r := doWith(t, noRedirects(), e.refreshReq(t, s.URL, rt))
			if r.status != http.StatusTemporaryRedirect || r.header.Get("Location") != e.refreshPath {
				t.Fatalf("redirect = %d to %q, want 307 to %s", r.status, r.header.Get("Location"), e.refreshPath)
			}
			s.RedirectPath(e.refreshPath, 1, http.StatusPermanentRedirect, "/elsewhere?x=1")
			r = doWith(t, noRedirects(), e.refreshReq(t, s.URL, rt))
			if r.status != http.StatusPermanentRedirect || r.header.Get("Location") != "/elsewhere?x=1" {
				t.Fatalf("redirect = %d to %q, want 308 to /elsewhere?x=1", r.status, r.header.Get("Location"))
			}
			if st := s.Counters(); st.RefreshRequests != 0 || st.InjectedRedirects != 2 || liveRefreshTokens(s) != 1 {
				t.Fatalf("Counters() = %+v, want 2 redirects, nothing processed", st)
			}
			// A client that follows a 307 re-sends the body: the
			// redirect did not process it, the follow-up does, once.
			s.RedirectPath(e.refreshPath, 1, http.StatusTemporaryRedirect, "")
			if r := e.refresh(t, s.URL, rt); r.status != http.StatusOK {
				t.Fatalf("followed redirect = %d %s, want 200", r.status, r.body)
			}
			if st := s.Counters(); st.Refreshes != 1 || st.MaxPresentations != 1 || st.InjectedRedirects != 3 {
				t.Errorf("Counters() = %+v, want 1 refresh, 1 presentation, 3 redirects", st)
			}
		})
	}
}

func TestRedirectPathLoopAndReplace(t *testing.T) {
	s := NewServer(t, Options{})
	s.RedirectPath("/auth/login", 100, http.StatusFound, "")
	req := newReq(t, s.URL+"/auth/login", "application/json", `{"username":"alice","password":"wonderland"}`)
	if _, err := http.DefaultClient.Do(req); err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("redirect loop: err = %v, want stopped after 10 redirects", err)
	}
	s.FailPath("/auth/login", 1, Fault{Status: 503}) // replaces the redirect rule
	if r := postJSON(t, s.URL, "/auth/login", `{}`); r.status != http.StatusServiceUnavailable {
		t.Errorf("after FailNext = %d, want 503", r.status)
	}
	login(t, s.URL)
	if st := s.Counters(); st.InjectedRedirects != 10 || st.InjectedFailures != 1 || st.LoginRequests != 1 {
		t.Errorf("Counters() = %+v, want 10 redirects (net/http's limit), 1 failure, 1 login", st)
	}
}

func TestDebugFailHeaders(t *testing.T) {
	s := NewServer(t, Options{})
	ctl := func(v url.Values) int { return postForm(t, s.URL, "/debug/fail", v, "", "").status }
	v := url.Values{"path": {"/auth/refresh"}, "n": {"1"}, "status": {"429"}, "header": {"Retry-After: 1", "X-Why:slow down"}}
	if got := ctl(v); got != http.StatusNoContent {
		t.Fatalf("/debug/fail with headers = %d, want 204", got)
	}
	r := refresh(t, s.URL, "rt_x")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" || r.header.Get("X-Why") != "slow down" {
		t.Errorf("injected = %d %v, want 429 with Retry-After: 1 and X-Why", r.status, r.header)
	}
	for _, bad := range []string{"no colon", ": empty name", "Bad Name: x"} {
		v.Set("header", bad)
		if got := ctl(v); got != http.StatusBadRequest {
			t.Errorf("header %q: %d, want 400", bad, got)
		}
	}
	if st := s.Counters(); st.InjectedFailures != 1 {
		t.Errorf("Counters() = %+v, want 1 injected", st)
	}
}

// TestResetSeenByGoClient checks what a net/http client sees of LostReset
// on a kept-alive connection: an error, and no automatic re-send.
func TestResetSeenByGoClient(t *testing.T) {
	s := NewServer(t, Options{})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	r := doWith(t, c, newReq(t, s.URL+"/auth/login", "application/json", `{"username":"alice","password":"wonderland"}`))
	s.RotateThenFail(1, LostReset)
	req := newReq(t, s.URL+"/auth/refresh", "application/json", `{"refresh_token":"`+r.str("refresh_token")+`"}`)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("refresh over a reset connection answered %d, want an error", resp.StatusCode)
	}
	t.Logf("client error: %v", err)
	if st := s.Counters(); st.MaxPresentations != 1 || st.Resets != 1 || st.Refreshes != 1 {
		t.Errorf("Counters() = %+v, want 1 presentation, 1 reset", st)
	}
}
