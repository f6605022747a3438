package demoserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestDebugControl(t *testing.T) {
	s, ts := newTestServer(t, Config{})
	ctl := func(path string, v url.Values) int {
		return postForm(t, ts.URL, path, v, "", "").status
	}
	at, rt := login(t, ts.URL)
	if got := ctl("/debug/revoke-access", nil); got != http.StatusNoContent {
		t.Fatalf("revoke-access = %d, want 204", got)
	}
	if got := get(t, ts.URL, "/api/profile", at); got.status != http.StatusUnauthorized {
		t.Errorf("access after /debug/revoke-access = %d, want 401", got.status)
	}
	if got := ctl("/debug/fail", url.Values{"path": {"/auth/refresh"}, "n": {"1"}, "status": {"503"}, "body": {"busy"}}); got != http.StatusNoContent {
		t.Fatalf("fail = %d, want 204", got)
	}
	if got := refresh(t, ts.URL, rt); got.status != http.StatusServiceUnavailable || string(got.body) != "busy" {
		t.Errorf("injected over HTTP = %d %q, want 503 busy", got.status, got.body)
	}
	if got := ctl("/debug/revoke-all", nil); got != http.StatusNoContent {
		t.Fatalf("revoke-all = %d", got)
	}
	if got := refresh(t, ts.URL, rt); got.status != http.StatusUnauthorized {
		t.Errorf("refresh after /debug/revoke-all = %d, want 401", got.status)
	}
	if got := ctl("/debug/delay", url.Values{"path": {"/x"}, "delay": {"1h"}}); got != http.StatusNoContent {
		t.Errorf("delay = %d, want 204", got)
	}
	s.injMu.Lock()
	d := s.delays["/x"]
	s.injMu.Unlock()
	if d.Hours() != 1 {
		t.Errorf("delay set over HTTP = %v, want 1h", d)
	}
	for _, bad := range []url.Values{
		{"path": {"/x"}, "delay": {"soon"}},
		{"delay": {"1s"}},
	} {
		if got := ctl("/debug/delay", bad); got != http.StatusBadRequest {
			t.Errorf("delay %v = %d, want 400", bad, got)
		}
	}
	if got := ctl("/debug/fail", url.Values{"path": {"/x"}, "n": {"x"}, "status": {"500"}}); got != http.StatusBadRequest {
		t.Errorf("fail with bad n = %d, want 400", got)
	}
}

func TestDebugControlLoopbackOnly(t *testing.T) {
	s := New(Config{})
	at := s.tokens.login("alice", s.cfg.Now(), s.cfg.AccessTTL, s.cfg.RefreshTTL).access
	req := httptest.NewRequest(http.MethodPost, "/debug/revoke-all", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden {
		t.Errorf("remote /debug/revoke-all = %d, want 403", w.Code)
	}
	if _, reason := s.tokens.checkAccess(at, s.cfg.Now()); reason != "" {
		t.Errorf("remote control revoked tokens: %s", reason)
	}
}
