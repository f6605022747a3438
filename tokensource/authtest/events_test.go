package authtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

// TestEvents runs one flow of each kind and checks the log, oldest first.
func TestEvents(t *testing.T) {
	clk := fakeclock.New(clockStart)
	s := NewServer(t, Options{Now: clk.Now})
	postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"nope"}`)
	at, rt1 := login(t, s.URL)
	rt2 := refresh(t, s.URL, rt1).str("refresh_token")
	refresh(t, s.URL, rt1) // reuse
	get(t, s.URL, "/api/items", at)
	s.RevokeAll()
	postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"password"}}, "who", "")
	s.FailNext(503, 1)
	refresh(t, s.URL, rt2)
	s.RotateThenFail(1, Lost504Empty)
	refresh(t, s.URL, rt2)

	want := []Event{
		{Kind: EventLoginFailed, Via: "json", User: "alice", Status: 401, Reason: "invalid username or password"},
		{Kind: EventLogin, Via: "json", User: "alice", Family: 1, Issued: TokenLabel(rt1), Status: 200},
		{Kind: EventRefresh, Via: "json", User: "alice", Family: 1, Label: TokenLabel(rt1), Issued: TokenLabel(rt2), Status: 200},
		{Kind: EventReuseDetected, Via: "json", User: "alice", Family: 1, Label: TokenLabel(rt1), Status: 401, Reason: reasonReuseRevoked},
		{Kind: EventRejected, Via: "api", Label: TokenLabel(at), Status: 401, Reason: "access token revoked"},
		{Kind: EventRevoked, Reason: "RevokeAll: every token family"},
		{Kind: EventClientRejected, Via: "oauth2", Status: 401, Reason: "client authentication failed"},
		{Kind: EventInjected, Via: "json", Status: 503, Reason: "fault on POST /auth/refresh"},
		{Kind: EventRefreshRejected, Via: "json", User: "alice", Family: 1, Label: TokenLabel(rt2), Status: 401, Reason: reasonRevoked},
		{Kind: EventReplyLost, Via: "json", Status: 504, Reason: "refresh processed, answer lost"},
	}
	got := s.Events()
	if len(got) != len(want) {
		t.Fatalf("Events() has %d events, want %d:\n%s", len(got), len(want), eventLines(got))
	}
	for i := range want {
		want[i].Time = clk.Now()
		if got[i] != want[i] {
			t.Errorf("event %d = %+v\n want %+v", i, got[i], want[i])
		}
	}
	wantLine := "03:04:05.000 reuse-detected via=json user=alice family=1 label=" + TokenLabel(rt1) +
		` status=401 reason="refresh token reused: family revoked"`
	if line := got[3].String(); line != wantLine {
		t.Errorf("String() = %q, want %q", line, wantLine)
	}
}

func eventLines(es []Event) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintln(&b, e)
	}
	return b.String()
}

// TestEventsHoldNoSecret runs every flow, then looks for every token the
// server issued, and the passwords, in the events under String, fmt, JSON
// and /debug/events.
func TestEventsHoldNoSecret(t *testing.T) {
	s := NewServer(t, Options{Users: map[string]string{"alice": "pw-SECRET"}})
	var tokens []string
	keep := func(r reply) reply {
		for _, k := range []string{"access_token", "refresh_token"} {
			if v := r.str(k); v != "" {
				tokens = append(tokens, v)
			}
		}
		return r
	}
	r := keep(postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"pw-SECRET"}`))
	postJSON(t, s.URL, "/auth/login", `{"username":"alice","password":"wrong-SECRET"}`)
	at, rt := r.str("access_token"), r.str("refresh_token")
	get(t, s.URL, "/api/profile", at)
	r2 := keep(refresh(t, s.URL, rt))
	keep(refresh(t, s.URL, rt))
	r3 := keep(postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"pw-SECRET"}}, s.ClientID, s.ClientSecret))
	postForm(t, s.URL, "/oauth2/revoke", url.Values{"token": {r3.str("refresh_token")}}, s.ClientID, s.ClientSecret)
	postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"password"}}, s.ClientID, "wrong-SECRET")
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/logout", strings.NewReader(`{"refresh_token":"`+r2.str("refresh_token")+`"}`))
	req.Header.Set("Authorization", "Bearer "+r2.str("access_token"))
	do(t, req)
	get(t, s.URL, "/api/profile", at)
	get(t, s.URL, "/api/profile", "at_bogus-SECRET")
	s.ProcessThenFail(OpLogin, 1, LostReset)
	_, _ = sendRaw(t, endpoints()[0].loginReq(t, s.URL, "alice", "pw-SECRET"))
	if len(tokens) < 6 {
		t.Fatalf("collected %d tokens, want at least 6", len(tokens))
	}

	events := s.Events()
	debug := get(t, s.URL, "/debug/events", "")
	js, _ := json.Marshal(events)
	forms := map[string]string{"String": eventLines(events), "%+v": fmt.Sprintf("%+v", events),
		"%#v": fmt.Sprintf("%#v", events), "JSON": string(js), "/debug/events": string(debug.body)}
	for form, out := range forms {
		for _, secret := range append(tokens, "SECRET") {
			if strings.Contains(out, secret) {
				t.Errorf("events under %s contain a secret (%.6s...)", form, secret)
			}
		}
	}
	if !strings.Contains(forms["String"], TokenLabel(rt)) || debug.status != http.StatusOK ||
		!strings.Contains(string(debug.body), TokenLabel(rt)) {
		t.Errorf("events lack the refresh token's label: %s", forms["String"])
	}
}

func TestEventLogBounded(t *testing.T) {
	s := newServer(Options{})
	for i := range maxEvents + 10 {
		s.record(Event{Kind: EventInjected, Status: i})
	}
	got := s.Events()
	if len(got) > maxEvents || got[len(got)-1].Status != maxEvents+9 || got[0].Status == 0 {
		t.Errorf("after %d events: %d kept, last %d, first %d", maxEvents+10, len(got), got[len(got)-1].Status, got[0].Status)
	}
}
