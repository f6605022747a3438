package transport

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

func TestValidTokenIsAttachedAndRequestUnchanged(t *testing.T) {
	res := newResource(t, "t0", `Bearer error="invalid_token"`)
	src := newFakeSource("t0")
	tr := &Transport{Source: src, Base: newBase(t)}

	req, _ := http.NewRequest(http.MethodGet, res.srv.URL+"/a", nil)
	req.Header.Set("X-Trace", "1")
	before := req.Header.Clone()
	status, body, err := do(t, tr, req)
	if err != nil || status != http.StatusOK || body != "ok" {
		t.Fatalf("Do() = %d %q %v, want 200 ok", status, body, err)
	}
	if !maps.EqualFunc(req.Header, before, func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }) {
		t.Errorf("caller's headers changed: got %v, want %v", req.Header, before)
	}
	if got := res.requests()[0].auth; got != "Bearer t0" {
		t.Errorf("Authorization = %q, want canonical %q", got, "Bearer t0")
	}
}

func TestUnauthorized(t *testing.T) {
	tests := []struct {
		name          string
		challenge     string
		serverAccepts string // token the server accepts; "" = none
		wantStatus    int
		wantRequests  int
		wantRefreshes int
		wantEvents    int
	}{
		{"invalid_token renews once", `Bearer realm="api", error="invalid_token"`, "renewed-1", 200, 2, 1, 1},
		{"bare Bearer renews", `Bearer`, "renewed-1", 200, 2, 1, 1},
		{"no challenge renews", ``, "renewed-1", 200, 2, 1, 1},
		{"lowercase scheme renews", `bearer error=invalid_token`, "renewed-1", 200, 2, 1, 1},
		{"401 on retry is returned, not looped", `Bearer error="invalid_token"`, "", 401, 2, 1, 1},
		{"insufficient_scope is not renewed", `Bearer error="insufficient_scope", scope="admin"`, "renewed-1", 401, 1, 0, 0},
		{"invalid_request renews once", `Bearer error="invalid_request"`, "renewed-1", 200, 2, 1, 1},
		{"Hydra's request_unauthorized renews once", `Bearer error="request_unauthorized"`, "renewed-1", 200, 2, 1, 1},
		{"Basic only is not ours", `Basic realm="x"`, "renewed-1", 401, 1, 0, 0},
		{"Bearer among others renews", `Basic realm="x", Bearer error="invalid_token"`, "renewed-1", 200, 2, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := newResource(t, tc.serverAccepts, tc.challenge)
			src := newFakeSource("t0")
			var ev events
			tr := &Transport{Source: src, Base: newBase(t), OnEvent: ev.add}
			req, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
			status, _, err := do(t, tr, req)
			if err != nil || status != tc.wantStatus {
				t.Fatalf("Do() = %d, %v; want %d", status, err, tc.wantStatus)
			}
			if got := len(res.requests()); got != tc.wantRequests {
				t.Errorf("server saw %d requests, want %d", got, tc.wantRequests)
			}
			if _, _, got := src.counts(); got != tc.wantRefreshes {
				t.Errorf("refreshes = %d, want %d", got, tc.wantRefreshes)
			}
			if got := ev.count(tokensource.EventRequestUnauthorized); got != tc.wantEvents {
				t.Errorf("EventRequestUnauthorized reported %d times, want %d", got, tc.wantEvents)
			}
		})
	}
}

func TestStaleTokenRetriesWithoutRefresh(t *testing.T) {
	res := newResource(t, "current", `Bearer error="invalid_token"`)
	src := newFakeSource("current")
	src.stale = &tokensource.Token{AccessToken: "old"}
	var ev events
	tr := &Transport{Source: src, Base: newBase(t), OnEvent: ev.add}

	req, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
	if status, _, err := do(t, tr, req); err != nil || status != 200 {
		t.Fatalf("Do() = %d, %v; want 200", status, err)
	}
	if _, renews, refreshes := src.counts(); renews != 0 || refreshes != 0 {
		t.Errorf("Renew calls = %d, refreshes = %d; want 0, 0", renews, refreshes)
	}
	if got := ev.count(tokensource.EventRequestStaleRetry); got != 1 {
		t.Errorf("EventRequestStaleRetry reported %d times, want 1", got)
	}
	reqs := res.requests()
	if len(reqs) != 2 || reqs[0].auth != "Bearer old" || reqs[1].auth != "Bearer current" {
		t.Errorf("server saw %+v, want old then current token", reqs)
	}
}

func TestSourceWithoutRenewerGetsThe401(t *testing.T) {
	res := newResource(t, "never", `Bearer error="invalid_token"`)
	tr := &Transport{Source: plainSource{newFakeSource("t0")}, Base: newBase(t)}
	req, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
	status, body, err := do(t, tr, req)
	if err != nil || status != 401 || body != "denied" {
		t.Fatalf("Do() = %d %q %v; want the server's 401", status, body, err)
	}
	if got := len(res.requests()); got != 1 {
		t.Errorf("server saw %d requests, want 1", got)
	}
}

func TestReplayWithGetBody(t *testing.T) {
	res := newResource(t, "renewed-1", "")
	tr := &Transport{Source: newFakeSource("t0"), Base: newBase(t)}
	req, _ := http.NewRequest(http.MethodPost, res.srv.URL, strings.NewReader("payload"))
	if status, _, err := do(t, tr, req); err != nil || status != 200 {
		t.Fatalf("Do() = %d, %v; want 200", status, err)
	}
	reqs := res.requests()
	if len(reqs) != 2 || reqs[0].body != "payload" || reqs[1].body != "payload" {
		t.Errorf("server saw %+v, want the same body twice", reqs)
	}
}

func TestNonReplayableBodyGetsOriginal401(t *testing.T) {
	res := newResource(t, "renewed-1", `Bearer error="invalid_token"`)
	src := newFakeSource("t0")
	tr := &Transport{Source: src, Base: newBase(t)}
	body := &closeTracker{Reader: strings.NewReader("payload")}
	req, _ := http.NewRequest(http.MethodPost, res.srv.URL, body)
	req.GetBody = nil

	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip() error = %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || string(got) != "denied" || resp.Header.Get("Www-Authenticate") == "" {
		t.Errorf("RoundTrip() = %d %q, want the original 401 with body and challenge", resp.StatusCode, got)
	}
	if _, renews, refreshes := src.counts(); renews != 1 || refreshes != 1 {
		t.Errorf("Renew calls = %d, refreshes = %d; want 1, 1", renews, refreshes)
	}
	if !body.isClosed() {
		t.Error("request body not closed")
	}
	// The renewal took effect: the next request succeeds at once.
	req2, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
	if status, _, err := do(t, tr, req2); err != nil || status != 200 {
		t.Errorf("next Do() = %d, %v; want 200", status, err)
	}
}

func TestSourceErrorsAreWrapped(t *testing.T) {
	res := newResource(t, "never", `Bearer error="invalid_token"`)
	tests := []struct {
		name string
		set  func(*fakeSource)
	}{
		{"Token fails", func(f *fakeSource) { f.tokenErr = tokensource.ErrReauthRequired }},
		{"Renew fails", func(f *fakeSource) { f.renewErr = tokensource.ErrReauthRequired }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newFakeSource("t0")
			tc.set(src)
			tr := &Transport{Source: src, Base: newBase(t)}
			req, _ := http.NewRequest(http.MethodGet, res.srv.URL, nil)
			_, _, err := do(t, tr, req)
			if !errors.Is(err, tokensource.ErrReauthRequired) {
				t.Fatalf("Do() error = %v, want one wrapping ErrReauthRequired", err)
			}
			if strings.Contains(err.Error(), "t0") {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

// blockingSource blocks in Token until the context ends.
type blockingSource struct{ entered chan struct{} }

func (b blockingSource) Token(ctx context.Context) (*tokensource.Token, error) {
	close(b.entered)
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestContextCancellation(t *testing.T) {
	res := newResource(t, "t0", "")
	src := blockingSource{entered: make(chan struct{})}
	tr := &Transport{Source: src, Base: newBase(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-src.entered
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, res.srv.URL, nil)
	_, _, err := do(t, tr, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Do() error = %v, want context.Canceled", err)
	}
	if got := len(res.requests()); got != 0 {
		t.Errorf("server saw %d requests, want 0", got)
	}
}

func TestConcurrent401sRefreshOnce(t *testing.T) {
	res := newResource(t, "renewed-1", `Bearer error="invalid_token"`)
	src := newFakeSource("t0")
	tr := &Transport{Source: src, Base: newBase(t)}
	client := &http.Client{Transport: tr}
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			resp, err := client.Get(res.srv.URL)
			if err != nil {
				t.Errorf("Get() error = %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d, want 200", i, s)
		}
	}
	if _, _, refreshes := src.counts(); refreshes != 1 {
		t.Errorf("refreshes = %d, want exactly 1", refreshes)
	}
}

func TestWithTokenCopiesHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 6, 7, 8, 9, 10, 20} {
		req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		for i := range n {
			k := "X-H" + strings.Repeat("a", i)
			req.Header.Add(k, "v1")
			if i%3 == 0 {
				req.Header.Add(k, "v2")
			}
		}
		before := req.Header.Clone()
		tok := &tokensource.Token{AccessToken: "t0"}
		r2 := withToken(req, tok, nil)
		if got := r2.Header.Get("Authorization"); got != "Bearer t0" {
			t.Errorf("%d headers: Authorization = %q", n, got)
		}
		for k, vv := range before {
			if got := r2.Header[k]; strings.Join(got, ",") != strings.Join(vv, ",") {
				t.Errorf("%d headers: copy of %s = %q, want %q", n, k, got, vv)
			}
			// Writing through the copy must not reach the caller's request.
			r2.Header[k][0] = "changed"
			r2.Header[k] = append(r2.Header[k], "more")
		}
		if !maps.EqualFunc(req.Header, before, func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }) {
			t.Errorf("%d headers: caller's headers changed to %v", n, req.Header)
		}
		if len(r2.Header) != len(before)+1 {
			t.Errorf("%d headers: copy has %d keys, want %d", n, len(r2.Header), len(before)+1)
		}
	}
}

// blockingRenewer hands out t0 and blocks in Renew until the context ends.
type blockingRenewer struct {
	*fakeSource
	entered chan struct{}
}

func (b blockingRenewer) Renew(ctx context.Context, _ *tokensource.Token) (*tokensource.Token, error) {
	close(b.entered)
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestCancelWhileRenewingClosesThe401(t *testing.T) {
	first := &closeTracker{Reader: strings.NewReader("denied")}
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 401, Header: http.Header{}, Body: first, Request: r}, nil
	})
	src := blockingRenewer{fakeSource: newFakeSource("t0"), entered: make(chan struct{})}
	tr := &Transport{Source: src, Base: base}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-src.entered
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/", nil)
	resp, err := tr.RoundTrip(req)
	if !errors.Is(err, context.Canceled) || resp != nil {
		t.Fatalf("RoundTrip() = %v, %v; want nil, context.Canceled", resp, err)
	}
	if !first.isClosed() {
		t.Error("the discarded 401 body was not closed")
	}
}

func TestDiscarded401BodyIsClosedOnRetry(t *testing.T) {
	var bodies []*closeTracker
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b := &closeTracker{Reader: strings.NewReader(strings.Repeat("x", 10<<10))}
		bodies = append(bodies, b)
		status := http.StatusOK
		if r.Header.Get("Authorization") == "Bearer t0" {
			status = http.StatusUnauthorized
		}
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: b, Request: r}, nil
	})
	tr := &Transport{Source: newFakeSource("t0"), Base: base}
	req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RoundTrip() = %v, %v; want 200", resp, err)
	}
	resp.Body.Close()
	if len(bodies) != 2 || !bodies[0].isClosed() {
		t.Errorf("%d responses seen; want 2 with the 401 body closed", len(bodies))
	}
}
