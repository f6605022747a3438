package tokensource

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// dvRun is one device login against authtest on a fake clock: the grant's
// waits move the clock instead of sleeping, and are recorded.
type dvRun struct {
	srv   *authtest.Server
	clock *fakeclock.Clock
	g     *DeviceGrant

	mu     sync.Mutex // guards waits and code
	waits  []time.Duration
	code   DeviceCode
	prompt bytes.Buffer
}

// newDVRun starts authtest with opts on a fake clock and a DeviceGrant
// for it. onWait, if set, runs at the start of wait n (from 1) and says
// whether the clock moves.
func newDVRun(t *testing.T, opts authtest.Options, onWait func(r *dvRun, n int) bool) *dvRun {
	r := &dvRun{clock: fakeclock.New(gNow())}
	opts.Now = r.clock.Now
	r.srv = authtest.NewServer(t, opts)
	r.g = &DeviceGrant{
		DeviceAuthorizationURL: r.srv.DeviceAuthorizationURL(), TokenURL: r.srv.TokenURL(), RevokeURL: r.srv.RevokeURL(),
		ClientID: r.srv.ClientID, ClientSecret: r.srv.ClientSecret, Scopes: []string{"openid"},
		Prompt: &r.prompt, HTTPClient: r.srv.Client(), Retry: gFast(), Now: r.clock.Now,
		OnCode: func(c DeviceCode) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.code = c
		},
	}
	r.g.sleep = func(ctx context.Context, d time.Duration) error {
		r.mu.Lock()
		r.waits = append(r.waits, d)
		n := len(r.waits)
		r.mu.Unlock()
		if onWait == nil || onWait(r, n) {
			r.clock.Advance(d)
		}
		return ctx.Err()
	}
	return r
}

func (r *dvRun) userCode() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.code.UserCode
}

func (r *dvRun) recorded() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.waits)
}

// approveAt approves the code at wait n.
func approveAt(t *testing.T, n int) func(r *dvRun, i int) bool {
	return func(r *dvRun, i int) bool {
		if i == n {
			if err := r.srv.ApproveDevice(r.userCode()); err != nil {
				t.Error(err)
			}
		}
		return true
	}
}

// TestDeviceLogin: the code is shown (OnCode, and Prompt one item per
// line), the grant polls at the server's interval through
// authorization_pending, and gets the tokens and the id_token once the
// user approved.
func TestDeviceLogin(t *testing.T) {
	r := newDVRun(t, authtest.Options{}, approveAt(t, 3))
	tok, err := r.g.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" {
		t.Errorf("Login() = %v, want access, refresh and id tokens", tok)
	}
	if got, want := r.recorded(), []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	c := r.code
	if c.VerificationURI != r.srv.VerificationURL() || c.VerificationURIComplete == "" || c.Interval != 5*time.Second ||
		!c.Expiry.Equal(gNow().Add(authtest.DefaultDeviceCodeTTL)) {
		t.Errorf("OnCode got %+v", c)
	}
	want := "To log in, visit: " + c.VerificationURI + "\nand enter the code: " + c.UserCode + "\nor visit: " + c.VerificationURIComplete + "\n"
	if r.prompt.String() != want {
		t.Errorf("Prompt = %q, want %q", r.prompt.String(), want)
	}
	if cn := r.srv.Counters(); cn.DevicePolls != 3 || cn.Logins != 1 {
		t.Errorf("server counters %+v, want 3 polls and 1 login", cn)
	}
	if !r.g.Interactive() {
		t.Error("Interactive() = false")
	}
}

// TestDeviceSlowDown: a poll the server finds too early is answered
// slow_down, and every later wait is 5 seconds longer.
func TestDeviceSlowDown(t *testing.T) {
	r := newDVRun(t, authtest.Options{}, func(r *dvRun, n int) bool {
		if n == 4 {
			_ = r.srv.ApproveDevice("")
		}
		return n != 2 // the second wait is cut short: the server sees a poll too soon
	})
	if _, err := r.g.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := time.Second
	if got, want := r.recorded(), []time.Duration{5 * s, 5 * s, 10 * s, 10 * s}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

// TestDeviceEnds: access_denied, expired_token from the server, the code's
// expires_in passing on our clock, and a cancelled context end the login
// with clear errors.
func TestDeviceEnds(t *testing.T) {
	t.Run("access denied", func(t *testing.T) {
		r := newDVRun(t, authtest.Options{}, func(r *dvRun, n int) bool {
			_ = r.srv.DenyDevice(r.userCode())
			return true
		})
		_, err := r.g.Login(t.Context())
		var ae *AuthorizationError
		if !errors.As(err, &ae) || ae.Code != "access_denied" || !errors.Is(err, ErrAccessDenied) || !errors.Is(err, ErrReauthRequired) {
			t.Fatalf("Login() = %v, want an access_denied AuthorizationError", err)
		}
		checkPrefixOnce(t, err)
	})
	t.Run("expired_token", func(t *testing.T) {
		// The server's clock runs on, ours stands still: the server ends
		// the flow.
		r := newDVRun(t, authtest.Options{DeviceCodeTTL: time.Minute}, nil)
		r.g.Now = gNow
		_, err := r.g.Login(t.Context())
		var ae *AuthorizationError
		if !errors.As(err, &ae) || ae.Code != "expired_token" || !errors.Is(err, ErrAuthorizationExpired) {
			t.Fatalf("Login() = %v, want an expired_token AuthorizationError", err)
		}
		if !strings.Contains(err.Error(), "expired") {
			t.Errorf("message %q does not say the code expired", err)
		}
		checkPrefixOnce(t, err)
	})
	t.Run("expires_in passes", func(t *testing.T) {
		// expires_in of 60 s at an interval of 5 s: the twelfth wait
		// reaches it, and no poll is sent past it.
		r := newDVRun(t, authtest.Options{DeviceCodeTTL: time.Minute}, nil)
		_, err := r.g.Login(t.Context())
		if !errors.Is(err, ErrAuthorizationExpired) {
			t.Fatalf("Login() = %v, want ErrAuthorizationExpired", err)
		}
		if n := r.srv.Counters().DevicePolls; n != 11 {
			t.Errorf("%d polls, want 11", n)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		r := newDVRun(t, authtest.Options{}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		r.g.sleep = nil // real waits: 5 s, cut short by the cancel
		r.g.OnCode = func(DeviceCode) { cancel() }
		start := time.Now()
		_, err := r.g.Login(ctx)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
			t.Fatalf("Login() = %v after %v, want context.Canceled at once", err, time.Since(start))
		}
		checkPrefixOnce(t, err)
		if n := r.srv.Counters().DevicePolls; n != 0 {
			t.Errorf("%d polls after the cancel, want 0", n)
		}
	})
}

// TestDevicePollAnswers drives the poll loop with a scripted server:
// default interval, a string interval, slow_down, and an error that is
// not a flow state ends the login as a TokenError.
func TestDevicePollAnswers(t *testing.T) {
	tests := []struct {
		name     string
		start    string   // the device authorization answer
		polls    []string // poll answers, as "status body"
		wantWait []time.Duration
		wantCode string // the TokenError code; "" for success
	}{
		{"no interval", `{"device_code":"dc","user_code":"U","verification_uri":"https://x/d"}`,
			[]string{`400 {"error":"authorization_pending"}`, `200 {"access_token":"at"}`},
			[]time.Duration{5 * time.Second, 5 * time.Second}, ""},
		{"string interval, slow_down", `{"device_code":"dc","user_code":"U","verification_url":"https://x/d","interval":"2"}`,
			[]string{`400 {"error":"slow_down"}`, `400 {"error":"slow_down"}`, `200 {"access_token":"at"}`},
			[]time.Duration{2 * time.Second, 7 * time.Second, 12 * time.Second}, ""},
		{"invalid_grant", `{"device_code":"dc","user_code":"U","verification_uri":"https://x/d","interval":1}`,
			[]string{`400 {"error":"invalid_grant"}`}, []time.Duration{time.Second}, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/device" {
					w.Write([]byte(tt.start))
					return
				}
				status, body, _ := strings.Cut(tt.polls[min(int(n)-2, len(tt.polls)-1)], " ")
				if status == "400" {
					w.WriteHeader(http.StatusBadRequest)
				}
				w.Write([]byte(body))
			})
			var waits []time.Duration
			g := &DeviceGrant{DeviceAuthorizationURL: p.srv.URL + "/device", TokenURL: p.srv.URL + "/token", ClientID: "cli",
				HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow,
				sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			tok, err := g.Login(t.Context())
			if !slices.Equal(waits, tt.wantWait) {
				t.Errorf("waits = %v, want %v", waits, tt.wantWait)
			}
			if tt.wantCode == "" {
				if err != nil || tok.AccessToken != "at" {
					t.Fatalf("Login() = %v, %v", tok, err)
				}
				reqs := p.requests()
				form, _ := url.ParseQuery(reqs[len(reqs)-1].body)
				if form.Get("grant_type") != deviceGrantType || form.Get("device_code") != "dc" || form.Get("client_id") != "cli" {
					t.Errorf("poll form = %v", form)
				}
				return
			}
			if te := gTokenError(t, err); te.Code != tt.wantCode {
				t.Errorf("Login() = %v, want a TokenError %s", err, tt.wantCode)
			}
		})
	}
}

// TestDeviceAuthorizationAnswers: an unusable device authorization
// answer, or a refusal, fails before anything is shown.
func TestDeviceAuthorizationAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		is         error
		code       string
	}{
		{"no user code", `{"device_code":"dc","verification_uri":"https://x/d"}`, 200, ErrMalformedResponse, ""},
		{"no verification uri", `{"device_code":"dc","user_code":"U"}`, 200, ErrMalformedResponse, ""},
		{"HTML", `<html><body>Sign in</body></html>`, 200, ErrMalformedResponse, ""},
		{"invalid client", `{"error":"invalid_client"}`, 401, nil, "invalid_client"},
		{"error on success", `{"error":"unauthorized_client"}`, 200, nil, "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gServer(t, gReply(tt.status, "application/json", []byte(tt.body)))
			shown := false
			g := &DeviceGrant{DeviceAuthorizationURL: p.srv.URL + "/device", TokenURL: p.srv.URL + "/token", ClientID: "cli",
				ClientSecret: "s3cret", HTTPClient: p.srv.Client(), Retry: gFast(), OnCode: func(DeviceCode) { shown = true }}
			_, err := g.Login(t.Context())
			te := gTokenError(t, err)
			if (tt.is != nil && !errors.Is(err, tt.is)) || te.Code != tt.code {
				t.Errorf("Login() = %v, want %v / code %q", err, tt.is, tt.code)
			}
			if shown || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("shown %t, error %q", shown, err)
			}
			checkPrefixOnce(t, err)
		})
	}
}

// TestDeviceShowsServerTextSafely: control characters in what the server
// sends never reach the terminal.
func TestDeviceShowsServerTextSafely(t *testing.T) {
	da, problem := parseDeviceAuthorization([]byte(`{"device_code":"dc","user_code":"AB\u001b[2J-CD","verification_uri":"https://x/d\r\nfake: line","expires_in":"600"}`), gNow())
	if problem != "" {
		t.Fatal(problem)
	}
	if da.UserCode != "AB[2J-CD" || da.VerificationURI != "https://x/dfake: line" || !da.Expiry.Equal(gNow().Add(10*time.Minute)) {
		t.Errorf("parsed %+v", da.DeviceCode)
	}
}
