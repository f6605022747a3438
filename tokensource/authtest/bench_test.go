package authtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkResource measures one authorized GET /api/profile through
// ServeHTTP (no network).
func BenchmarkResource(b *testing.B) {
	s := newServer(Options{})
	at := s.tokens.login("alice", s.opts.Now(), s.opts.AccessTTL, s.opts.RefreshTTL).access
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/api/profile", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		w := httptest.NewRecorder()
		s.serveHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkRefresh measures one rotation through POST /auth/refresh,
// including the amortized sweep.
func BenchmarkRefresh(b *testing.B) {
	s := newServer(Options{})
	rt := s.tokens.login("alice", s.opts.Now(), s.opts.AccessTTL, s.opts.RefreshTTL).refresh
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/auth/refresh", strings.NewReader(`{"refresh_token":"`+rt+`"}`))
		w := httptest.NewRecorder()
		s.serveHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		rt = w.Body.String()[strings.Index(w.Body.String(), `"refresh_token":"`)+17:]
		rt = rt[:strings.IndexByte(rt, '"')]
	}
}
