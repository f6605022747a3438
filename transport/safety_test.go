package transport

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedirects(t *testing.T) {
	other := newResource(t, "t0", "")
	same := newResource(t, "t0", "")
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-other":
			http.Redirect(w, r, other.srv.URL+"/landed", http.StatusFound)
		case "/to-same":
			http.Redirect(w, r, "/landed", http.StatusFound)
		case "/landed":
			same.serve(w, r)
		}
	}))
	t.Cleanup(origin.Close)
	tr := &Transport{Source: newFakeSource("t0"), Base: newBase(t)}

	t.Run("another host gets no token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/to-other", nil)
		if _, _, err := do(t, tr, req); err != nil {
			t.Fatal(err)
		}
		reqs := other.requests()
		if len(reqs) != 1 || reqs[0].auth != "" {
			t.Errorf("other host saw %+v, want one request without Authorization", reqs)
		}
	})
	t.Run("same host keeps the token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+"/to-same", nil)
		if status, _, err := do(t, tr, req); err != nil || status != 200 {
			t.Fatalf("Do() = %d, %v; want 200", status, err)
		}
		reqs := same.requests()
		if len(reqs) != 1 || reqs[0].auth != "Bearer t0" {
			t.Errorf("same host saw %+v, want the token", reqs)
		}
	})
}

func TestCallerAuthorizationIsKept(t *testing.T) {
	res := newResource(t, "mine", "")
	src := newFakeSource("t0")
	tr := &Transport{Source: src, Base: newBase(t)}
	req, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
	req.Header.Set("Authorization", "Bearer mine")
	if status, _, err := do(t, tr, req); err != nil || status != 200 {
		t.Fatalf("Do() = %d, %v; want 200", status, err)
	}
	if calls, _, _ := src.counts(); calls != 0 {
		t.Errorf("Source.Token called %d times, want 0", calls)
	}
}

func TestInsecureHTTP(t *testing.T) {
	var sent string
	canned := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r.Header.Get("Authorization")
		if r.Body != nil {
			r.Body.Close()
		}
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	t.Run("refused by default", func(t *testing.T) {
		src := newFakeSource("t0")
		tr := &Transport{Source: src, Base: canned}
		req, _ := http.NewRequest(http.MethodGet, "http://api.example.com/x", nil)
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, ErrInsecureTransport) {
			t.Errorf("RoundTrip() error = %v, want ErrInsecureTransport", err)
		}
		if calls, _, _ := src.counts(); calls != 0 {
			t.Errorf("Source.Token called %d times, want 0", calls)
		}
	})
	t.Run("allowed when opted in", func(t *testing.T) {
		tr := &Transport{Source: newFakeSource("t0"), Base: canned, AllowInsecureHTTP: true}
		req, _ := http.NewRequest(http.MethodGet, "http://api.example.com/x", nil)
		if _, err := tr.RoundTrip(req); err != nil || sent != "Bearer t0" {
			t.Errorf("RoundTrip() = %v, sent %q; want the token sent", err, sent)
		}
	})
	t.Run("https and loopback need no opt-in", func(t *testing.T) {
		for _, u := range []string{"https://api.example.com/", "http://127.0.0.1:1/", "http://localhost/", "http://[::1]:8/"} {
			sent = ""
			tr := &Transport{Source: newFakeSource("t0"), Base: canned}
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if _, err := tr.RoundTrip(req); err != nil || sent != "Bearer t0" {
				t.Errorf("%s: RoundTrip() = %v, sent %q; want the token sent", u, err, sent)
			}
		}
	})
}

// closedURL returns a loopback URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func TestRequestBodyClosedOnEveryPath(t *testing.T) {
	ok := newResource(t, "t0", "")
	renews := newResource(t, "renewed-1", "")
	never := newResource(t, "never", "")
	failing := newFakeSource("t0")
	failing.tokenErr = errors.New("boom")
	tests := []struct {
		name     string
		tr       *Transport
		url      string
		noReplay bool
	}{
		{"success", &Transport{Source: newFakeSource("t0")}, ok.srv.URL, false},
		{"renewed and replayed", &Transport{Source: newFakeSource("t0")}, renews.srv.URL, false},
		{"401 not replayable", &Transport{Source: newFakeSource("t0")}, never.srv.URL, true},
		{"Source error", &Transport{Source: failing}, ok.srv.URL, false},
		{"nil Source", &Transport{}, ok.srv.URL, false},
		{"Base error", &Transport{Source: newFakeSource("t0")}, closedURL(t), false},
		{"insecure refusal", &Transport{Source: newFakeSource("t0")}, "http://api.example.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.tr.Base = newBase(t)
			body := &closeTracker{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequest(http.MethodPost, tc.url, body)
			var replayed []*closeTracker
			if !tc.noReplay {
				req.GetBody = func() (io.ReadCloser, error) {
					b := &closeTracker{Reader: strings.NewReader("payload")}
					replayed = append(replayed, b)
					return b, nil
				}
			}
			resp, err := tc.tr.RoundTrip(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if !body.isClosed() {
				t.Error("request body not closed")
			}
			for i, b := range replayed {
				if !b.isClosed() {
					t.Errorf("replayed body %d not closed", i)
				}
			}
		})
	}
}

func TestNoTokenInLogsOrErrors(t *testing.T) {
	res := newResource(t, "never", `Bearer error="invalid_token"`)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src := newFakeSource("secret-access")
	src.cur.RefreshToken = "secret-refresh"
	tr := &Transport{Source: src, Base: newBase(t), Logger: logger}

	req, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
	if status, _, err := do(t, tr, req); err != nil || status != 401 {
		t.Fatalf("Do() = %d, %v; want 401", status, err)
	}
	src.renewErr = errors.New("refresh failed")
	req, _ = http.NewRequest(http.MethodGet, res.srv.URL, nil)
	_, _, err := do(t, tr, req)
	if err == nil {
		t.Fatal("Do() error = nil, want the renewal error")
	}
	if !strings.Contains(logs.String(), "401 intercepted") {
		t.Errorf("logs = %q, want the 401 to be logged", logs.String())
	}
	for _, s := range []string{"secret", "renewed-"} {
		if strings.Contains(logs.String(), s) || strings.Contains(err.Error(), s) {
			t.Errorf("token fragment %q leaked: logs %q, error %q", s, logs.String(), err)
		}
	}
}
