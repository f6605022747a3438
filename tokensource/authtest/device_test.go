package authtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenrefresh/tokenrefresh/internal/fakeclock"
)

// deviceStart asks s for a device code.
func deviceStart(t *testing.T, s *Server) reply {
	t.Helper()
	r := postForm(t, s.URL, "/oauth2/device_authorization", url.Values{"scope": {"openid"}}, s.ClientID, s.ClientSecret)
	if r.status != http.StatusOK {
		t.Fatalf("device authorization: %d %s", r.status, r.body)
	}
	return r
}

func devicePoll(t *testing.T, s *Server, dc string) reply {
	t.Helper()
	return postForm(t, s.URL, "/oauth2/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {dc}}, s.ClientID, s.ClientSecret)
}

// TestDeviceFlow runs RFC 8628 on the wire: the answer's fields,
// authorization_pending, slow_down for a poll inside the interval (which
// then grows by 5 s), approval by user code, tokens once, then an unknown
// device code.
func TestDeviceFlow(t *testing.T) {
	clk := fakeclock.New(clockStart)
	s := NewServer(t, Options{Now: clk.Now, DeviceInterval: 2 * time.Second})
	r := deviceStart(t, s)
	dc, uc := r.str("device_code"), r.str("user_code")
	if !strings.HasPrefix(dc, "dc_") || len(uc) != 9 || r.str("verification_uri") != s.VerificationURL() ||
		r.str("verification_uri_complete") != s.VerificationURL()+"?user_code="+uc ||
		r.json["interval"] != float64(2) || r.json["expires_in"] != float64(600) {
		t.Fatalf("device authorization answer = %s", r.body)
	}
	steps := []struct {
		advance time.Duration
		want    string
	}{
		{0, "authorization_pending"},   // the first poll
		{time.Second, "slow_down"},     // inside the 2 s interval: now 7 s
		{5 * time.Second, "slow_down"}, // inside 7 s: now 12 s
		{12 * time.Second, "authorization_pending"},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if r := devicePoll(t, s, dc); r.status != http.StatusBadRequest || r.str("error") != st.want {
			t.Fatalf("poll %d: %d %s, want %s", i+1, r.status, r.body, st.want)
		}
	}
	if err := s.ApproveDevice("nope"); err == nil {
		t.Error("ApproveDevice(unknown code) = nil, want an error")
	}
	if err := s.ApproveDevice(strings.ToLower(strings.ReplaceAll(uc, "-", " "))); err != nil {
		t.Fatal(err)
	}
	clk.Advance(12 * time.Second)
	r = devicePoll(t, s, dc)
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") == "" || r.str("id_token") == "" {
		t.Fatalf("poll after approval: %d %s", r.status, r.body)
	}
	if got := get(t, s.URL, "/api/profile", r.str("access_token")); got.str("user") != "alice" {
		t.Errorf("profile = %s", got.body)
	}
	if r := devicePoll(t, s, dc); r.str("error") != "invalid_grant" {
		t.Errorf("poll after the tokens: %s, want invalid_grant", r.body)
	}
	if c := s.Counters(); c.DeviceCodes != 1 || c.DevicePolls != 6 || c.Logins != 1 {
		t.Errorf("counters = %+v, want 1 device code, 6 polls, 1 login", c)
	}
}

// TestDeviceEnds: a denial answers access_denied, an expired code
// expired_token; the debug endpoint and the verification page decide too.
func TestDeviceEnds(t *testing.T) {
	clk := fakeclock.New(clockStart)
	s := NewServer(t, Options{Now: clk.Now, DeviceCodeTTL: time.Minute})

	denied := deviceStart(t, s)
	if err := s.DenyDevice(denied.str("user_code")); err != nil {
		t.Fatal(err)
	}
	if r := devicePoll(t, s, denied.str("device_code")); r.str("error") != "access_denied" {
		t.Errorf("denied: %s", r.body)
	}

	expired := deviceStart(t, s)
	clk.Advance(time.Minute)
	if r := devicePoll(t, s, expired.str("device_code")); r.str("error") != "expired_token" {
		t.Errorf("expired: %s", r.body)
	}
	if err := s.ApproveDevice(expired.str("user_code")); err == nil {
		t.Error("ApproveDevice(expired code) = nil, want an error")
	}

	viaDebug := deviceStart(t, s)
	if r := do(t, mustRequest(t, http.MethodPost, s.URL+"/debug/device?decision=approve")); r.status != http.StatusNoContent {
		t.Fatalf("POST /debug/device: %d %s", r.status, r.body)
	}
	if r := devicePoll(t, s, viaDebug.str("device_code")); r.status != http.StatusOK {
		t.Errorf("after /debug/device approve: %s", r.body)
	}
	if r := do(t, mustRequest(t, http.MethodPost, s.URL+"/debug/device?decision=approve")); r.status != http.StatusBadRequest {
		t.Errorf("POST /debug/device with nothing pending: %d, want 400", r.status)
	}

	viaPage := deviceStart(t, s)
	if r := get(t, s.URL, "/oauth2/device?user_code="+viaPage.str("user_code"), ""); r.status != http.StatusOK ||
		!strings.Contains(string(r.body), viaPage.str("user_code")) {
		t.Errorf("verification page: %d %s", r.status, r.body)
	}
	r := postForm(t, s.URL, "/oauth2/device", url.Values{"user_code": {viaPage.str("user_code")}, "decision": {"deny"}}, "", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "Denied") {
		t.Errorf("verification page deny: %d %s", r.status, r.body)
	}
	if r := devicePoll(t, s, viaPage.str("device_code")); r.str("error") != "access_denied" {
		t.Errorf("after the page's deny: %s", r.body)
	}
	if c := s.Counters(); c.Denied != 2 || c.DeviceCodes != 4 {
		t.Errorf("counters = %+v, want 2 denials, 4 device codes", c)
	}
}

// TestDeviceClientAuth: the device authorization endpoint authenticates
// the client, and a device code is only good for its client.
func TestDeviceClientAuth(t *testing.T) {
	s := NewServer(t, Options{})
	if r := postForm(t, s.URL, "/oauth2/device_authorization", nil, s.ClientID, "wrong"); r.status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d, want 401", r.status)
	}
	pub := NewServer(t, Options{PublicClient: true})
	r := postForm(t, pub.URL, "/oauth2/device_authorization", url.Values{"client_id": {pub.ClientID}}, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("public client: %d %s", r.status, r.body)
	}
}
