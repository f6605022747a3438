package authtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clockStart is where the tests' fake clocks start.
var clockStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// reply is a decoded response.
type reply struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r reply) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	if strings.HasPrefix(req.URL.Path, "/debug/") {
		req.Header.Set(DebugHeader, "1") // debug endpoints refuse calls without it
	}
	return send(t, http.DefaultClient, req)
}

// send makes req with c and reads the whole reply.
func send(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", req.URL.Path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

func postJSON(t *testing.T, base, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func postForm(t *testing.T, base, path string, form url.Values, user, pass string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" || pass != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return do(t, req)
}

func get(t *testing.T, base, path, accessToken string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	return do(t, req)
}

// login logs alice in through the JSON API and returns the pair.
func login(t *testing.T, base string) (access, refresh string) {
	t.Helper()
	r := postJSON(t, base, "/auth/login", `{"username":"alice","password":"wonderland"}`)
	if r.status != http.StatusOK {
		t.Fatalf("login: status %d, body %s", r.status, r.body)
	}
	return r.str("access_token"), r.str("refresh_token")
}

func refresh(t *testing.T, base, rt string) reply {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"refresh_token": rt})
	return postJSON(t, base, "/auth/refresh", string(b))
}

// newClosableServer serves s over httptest without StopDelays at cleanup, so
// a test can check that cancellation alone unblocks Close.
func newClosableServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(ts.Close) // Close is idempotent
	return ts
}

// closeWithin closes ts and fails if that takes longer than a generous d.
func closeWithin(t *testing.T, ts *httptest.Server, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		ts.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("httptest.Server.Close did not return within %v", d)
	}
}

// loginNoFatal and refreshNoFatal are for goroutines other than the test's.
func loginNoFatal(base string) (access, refresh string) {
	r, err := rawPost(base+"/auth/login", `{"username":"alice","password":"wonderland"}`)
	if err != nil {
		return "", ""
	}
	return r.str("access_token"), r.str("refresh_token")
}

func refreshNoFatal(base, rt string) (reply, error) {
	b, _ := json.Marshal(map[string]string{"refresh_token": rt})
	return rawPost(base+"/auth/refresh", string(b))
}

func rawPost(u, body string) (reply, error) {
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r, err
}
