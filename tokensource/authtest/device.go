package authtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Paths and constants of the device authorization grant (RFC 8628).
const (
	pathDeviceAuthorization = "/oauth2/device_authorization"
	pathDeviceVerification  = "/oauth2/device"
	// deviceGrantType is the grant_type of the device code poll.
	deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"
	// devicePrefix marks issued device codes.
	devicePrefix = "dc_"
	// userCodeChars are the characters of user codes: consonants only,
	// so no word is spelled and none is mistaken for another (RFC 8628
	// section 6.1).
	userCodeChars = "BCDFGHJKLMNPQRSTVWXZ"
	// slowDownStep is what each slow_down adds to the interval.
	slowDownStep = 5 * time.Second
)

// DeviceAuthorizationURL returns the RFC 8628 device authorization
// endpoint: URL + "/oauth2/device_authorization".
func (s *Server) DeviceAuthorizationURL() string { return s.URL + pathDeviceAuthorization }

// VerificationURL returns the device flow's verification URI, which device
// authorization answers send users to: URL + "/oauth2/device", a page
// where a user code is approved or denied (as the demo user, with no
// login).
func (s *Server) VerificationURL() string { return s.URL + pathDeviceVerification }

// deviceState is where a device authorization stands.
type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
)

// deviceEntry is an issued device code.
type deviceEntry struct {
	userCode, client, scope string
	user                    string // who approved
	state                   deviceState
	expiry                  time.Time
	interval                time.Duration // grows with each slow_down
	lastPoll                time.Time     // zero before the first poll
}

// newUserCode returns a user code such as "WDJB-MJHT".
func newUserCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = userCodeChars[int(b[i])%len(userCodeChars)]
	}
	return string(b[:4]) + "-" + string(b[4:])
}

// normalUserCode is a user code as typed, upper-cased without separators.
func normalUserCode(c string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(c))
}

// handleDeviceAuthorization issues a device code (RFC 8628 section 3.2).
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if !parseForm(w, r) || !s.clientOK(w, r) {
		return
	}
	client := presentedClient(r)
	if client == "" {
		client = s.opts.ClientID
	}
	dc := devicePrefix + rand.Text()
	e := &deviceEntry{userCode: newUserCode(), client: client, scope: r.PostForm.Get("scope"),
		expiry: s.now().Add(s.opts.DeviceCodeTTL), interval: s.opts.DeviceInterval}
	s.flow.mu.Lock()
	s.sweepFlowsLocked()
	s.flow.devices[dc] = e
	s.flow.mu.Unlock()
	s.tally.deviceCodes.Add(1)
	s.record(Event{Kind: EventDeviceCode, Via: viaOAuth2, User: client, Label: TokenLabel(dc), Status: http.StatusOK})
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               dc,
		"user_code":                 e.userCode,
		"verification_uri":          s.VerificationURL(),
		"verification_uri_complete": s.VerificationURL() + "?user_code=" + e.userCode,
		"expires_in":                int64(s.opts.DeviceCodeTTL / time.Second),
		"interval":                  int64(e.interval / time.Second),
	})
}

// pollDevice answers one poll of a device code by client: the RFC 8628
// section 3.5 error code, or "" with the approved entry.
func (s *Server) pollDevice(dc, client string) (code string, approved deviceEntry, reason string) {
	now := s.now()
	s.flow.mu.Lock()
	defer s.flow.mu.Unlock()
	e, ok := s.flow.devices[dc]
	switch {
	case !ok:
		return "invalid_grant", deviceEntry{}, "unknown device code"
	case !s.opts.AnyClient && client != e.client:
		return "invalid_grant", deviceEntry{}, "device code issued to another client"
	case !now.Before(e.expiry):
		return "expired_token", deviceEntry{}, "device code expired"
	case e.state == deviceDenied:
		delete(s.flow.devices, dc)
		return "access_denied", deviceEntry{}, "the user denied the request"
	case e.state == deviceApproved:
		delete(s.flow.devices, dc)
		return "", *e, ""
	}
	fast := !e.lastPoll.IsZero() && now.Sub(e.lastPoll) < e.interval
	e.lastPoll = now
	if fast {
		e.interval += slowDownStep
		return "slow_down", deviceEntry{}, "polled faster than the interval"
	}
	return "authorization_pending", deviceEntry{}, "waiting for the user"
}

// deviceCodeGrant answers a device code poll (RFC 8628 section 3.4) once
// the client is authenticated.
func (s *Server) deviceCodeGrant(w http.ResponseWriter, r *http.Request) {
	dc := r.PostForm.Get("device_code")
	if dc == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "device_code is required")
		return
	}
	s.tally.devicePolls.Add(1)
	code, e, reason := s.pollDevice(dc, presentedClient(r))
	switch code {
	case "":
	case "authorization_pending", "slow_down":
		writeError(w, http.StatusBadRequest, code, reason)
		return
	default:
		s.record(Event{Kind: EventLoginFailed, Via: viaOAuth2, Label: TokenLabel(dc), Status: http.StatusBadRequest, Reason: reason})
		writeError(w, http.StatusBadRequest, code, reason)
		return
	}
	p := s.tokens.login(e.user, s.now(), s.opts.AccessTTL, s.opts.RefreshTTL)
	s.tally.logins.Add(1)
	s.record(Event{Kind: EventLogin, Via: viaOAuth2, User: e.user, Family: p.family, Label: TokenLabel(dc),
		Issued: issuedLabel(p), Status: http.StatusOK, Reason: "device code"})
	if s.loseReply(w, OpLogin, viaOAuth2) {
		return
	}
	body := s.oauth2Response(p, e.scope)
	s.putIDToken(body, e.scope, e.user, e.client, "", p.issued)
	s.writeToken(w, OpLogin, viaOAuth2, body)
}

// errNoDevice is returned when no pending device authorization matches.
var errNoDevice = errors.New("authtest: no pending device authorization with that user code")

// ApproveDevice approves, as the demo user ([Server].User), the pending
// device authorization whose user code is userCode (case, spaces and
// dashes ignored), or every pending one when userCode is "". The next poll
// of its device code gets the tokens. It returns an error when none
// matches.
func (s *Server) ApproveDevice(userCode string) error {
	return s.decideDevice(userCode, deviceApproved, "")
}

// DenyDevice denies the pending device authorization whose user code is
// userCode, or every pending one when userCode is "": the next poll of its
// device code gets access_denied. It returns an error when none matches.
func (s *Server) DenyDevice(userCode string) error { return s.decideDevice(userCode, deviceDenied, "") }

func (s *Server) decideDevice(userCode string, st deviceState, via string) error {
	want := normalUserCode(userCode)
	now := s.now()
	var decided []string
	s.flow.mu.Lock()
	for dc, e := range s.flow.devices {
		if e.state != devicePending || !now.Before(e.expiry) || (want != "" && normalUserCode(e.userCode) != want) {
			continue
		}
		e.state, e.user = st, s.User
		decided = append(decided, dc)
	}
	s.flow.mu.Unlock()
	if len(decided) == 0 {
		return errNoDevice
	}
	for _, dc := range decided {
		e := Event{Kind: EventDeviceApproved, Via: via, User: s.User, Label: TokenLabel(dc), Reason: "device code approved"}
		if st == deviceDenied {
			s.tally.denied.Add(1)
			e.Kind, e.Reason = EventAccessDenied, "device code denied"
		}
		s.record(e)
	}
	return nil
}

// verificationPage is the verification URI's page: a user code and two
// buttons.
var verificationPage = template.Must(template.New("device").Parse(`<!DOCTYPE html>
<html><head><title>authtest: device login</title></head><body>
<h1>Device login</h1>
{{if .Message}}<p>{{.Message}}</p>{{end}}
<form method="post" action="` + pathDeviceVerification + `">
<label>Code <input name="user_code" value="{{.Code}}" autocomplete="off"></label>
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form></body></html>
`))

// handleVerification serves the verification page (GET) and takes its
// decision (POST), as the demo user: a fake with no user login.
func (s *Server) handleVerification(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	data := struct{ Code, Message string }{Code: r.URL.Query().Get("user_code")}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		if !parseForm(w, r) {
			return
		}
		data.Code = r.PostForm.Get("user_code")
		st, msg := deviceApproved, "Approved. Return to your device."
		if r.PostForm.Get("decision") == "deny" {
			st, msg = deviceDenied, "Denied."
		}
		data.Message = msg
		if data.Code == "" || s.decideDevice(data.Code, st, viaOAuth2) != nil {
			status, data.Message = http.StatusBadRequest, "Unknown or expired code."
		}
	}
	w.WriteHeader(status)
	_ = verificationPage.Execute(w, data)
}

// unsignedJWT encodes claims as a JWT with alg "none" and no signature.
func unsignedJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	b, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(b) + "."
}
