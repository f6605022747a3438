package authtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Paths of the authorization code flow.
const (
	pathAuthorize = "/oauth2/authorize"
	// codeTTL is the lifetime of an authorization code (RFC 6749 section
	// 4.1.2 recommends ten minutes at most).
	codeTTL = time.Minute
	// codePrefix marks issued authorization codes.
	codePrefix = "ac_"
)

// AuthorizationURL returns the authorization endpoint of the
// authorization code flow: URL + "/oauth2/authorize".
func (s *Server) AuthorizationURL() string { return s.URL + pathAuthorize }

// flows holds the state of the interactive grants: authorization codes,
// pending approval decisions and device codes.
type flows struct {
	// mu guards every field below.
	mu    sync.Mutex
	codes map[string]*authCode
	// decisions are queued approvals (true) and denials (false), taken by
	// the next authorization requests in order.
	decisions []bool
	// changed is closed and replaced when a decision is queued, waking the
	// requests waiting for one.
	changed chan struct{}
	devices map[string]*deviceEntry // by device code
}

func newFlows() *flows {
	return &flows{codes: make(map[string]*authCode), changed: make(chan struct{}),
		devices: make(map[string]*deviceEntry)}
}

// authCode is an issued authorization code and what it is bound to.
type authCode struct {
	client, redirectURI, challenge string
	user, scope, nonce             string
	expiry                         time.Time
	used                           bool
	family                         uint64 // of the tokens it was exchanged for
}

// ApproveAuthorization queues an approval for the next authorization
// request, or for one waiting with [Options].RequireApproval. Requests
// take queued decisions in order; without one they are approved at once,
// or wait under RequireApproval.
func (s *Server) ApproveAuthorization() { s.flow.queue(true) }

// DenyAuthorization queues a denial for the next authorization request
// (or one waiting), which is redirected back with error=access_denied, as
// when a user clicks "Deny". It works with and without RequireApproval.
func (s *Server) DenyAuthorization() { s.flow.queue(false) }

func (f *flows) queue(approve bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decisions = append(f.decisions, approve)
	close(f.changed)
	f.changed = make(chan struct{})
}

// decide returns the decision for an authorization request: a queued one,
// else approval unless wait is set, in which case it waits for one until
// done is closed (ok false then).
func (f *flows) decide(wait bool, done, stop <-chan struct{}) (approve, ok bool) {
	for {
		select {
		case <-done:
			return false, false // a decision is for a browser still waiting
		default:
		}
		f.mu.Lock()
		if len(f.decisions) > 0 {
			d := f.decisions[0]
			f.decisions = f.decisions[1:]
			f.mu.Unlock()
			return d, true
		}
		changed := f.changed
		f.mu.Unlock()
		if !wait {
			return true, true
		}
		select {
		case <-changed:
		case <-done:
			return false, false
		case <-stop:
			return false, false
		}
	}
}

// knownClient reports whether id names the server's client.
func (s *Server) knownClient(id string) bool {
	return id != "" && (s.opts.AnyClient || id == s.opts.ClientID)
}

// loopbackRedirect parses a redirect URI RFC 8252 section 7.3 allows for
// a native app: http to a loopback IP literal or localhost, any port, no
// fragment.
func loopbackRedirect(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Fragment != "" || u.User != nil {
		return nil, false
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return nil, false
	}
	return u, true
}

// pkceValue matches a code_verifier (RFC 7636 section 4.1) and, with 43
// characters, an S256 code_challenge.
var pkceValue = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// handleAuthorize is the authorization endpoint (RFC 6749 section 4.1.1)
// of a native app's login: PKCE with S256 required, a loopback redirect
// URI, the demo user approved at once unless a decision says otherwise.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !s.knownClient(q.Get("client_id")) {
		authPage(w, http.StatusBadRequest, "Unknown client", "The client_id is not this server's client.")
		return
	}
	ru, ok := loopbackRedirect(q.Get("redirect_uri"))
	if !ok {
		authPage(w, http.StatusBadRequest, "Bad redirect_uri",
			"The redirect_uri must be http:// to a loopback address (RFC 8252 section 7.3).")
		return
	}
	back := func(params url.Values) {
		v := ru.Query()
		for k, vs := range params {
			v[k] = vs
		}
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		v.Set("iss", s.IssuerURL()) // RFC 9207
		target := *ru
		target.RawQuery = v.Encode()
		http.Redirect(w, r, target.String(), http.StatusFound)
	}
	fail := func(code, desc string) { back(url.Values{"error": {code}, "error_description": {desc}}) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || !pkceValue.MatchString(q.Get("code_challenge")):
		fail("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
		return
	}
	approve, ok := s.flow.decide(s.opts.RequireApproval, r.Context().Done(), s.stopDelays)
	if !ok {
		return // the browser went away, or the server is closing
	}
	if !approve {
		s.tally.denied.Add(1)
		s.record(Event{Kind: EventAccessDenied, Via: viaOAuth2, User: s.User, Status: http.StatusFound,
			Reason: "authorization request denied"})
		fail("access_denied", "the user denied the request")
		return
	}
	code := codePrefix + rand.Text()
	s.flow.mu.Lock()
	s.sweepFlowsLocked()
	s.flow.codes[code] = &authCode{client: q.Get("client_id"), redirectURI: ru.String(),
		challenge: q.Get("code_challenge"), user: s.User, scope: q.Get("scope"), nonce: q.Get("nonce"),
		expiry: s.now().Add(codeTTL)}
	s.flow.mu.Unlock()
	s.tally.authCodes.Add(1)
	s.record(Event{Kind: EventAuthorizationCode, Via: viaOAuth2, User: s.User, Label: TokenLabel(code), Status: http.StatusFound})
	back(url.Values{"code": {code}})
}

// redeemCode checks and spends an authorization code for the exchange of
// client; reason says why it cannot be exchanged. A code presented again
// revokes the tokens it was exchanged for (RFC 6749 section 4.1.2).
func (s *Server) redeemCode(code, client, redirectURI, verifier string) (c authCode, reason string) {
	s.flow.mu.Lock()
	defer s.flow.mu.Unlock()
	e, ok := s.flow.codes[code]
	switch {
	case !ok:
		return authCode{}, "unknown authorization code"
	case e.used:
		s.tokens.revokeFamily(e.family)
		return *e, "authorization code reused: the tokens issued for it are revoked"
	case !s.now().Before(e.expiry):
		return *e, "authorization code expired"
	case !s.opts.AnyClient && client != e.client:
		return *e, "authorization code issued to another client"
	case redirectURI != e.redirectURI:
		return *e, "redirect_uri differs from the authorization request's"
	case !pkceValue.MatchString(verifier):
		return *e, "code_verifier missing or malformed"
	}
	sum := sha256.Sum256([]byte(verifier))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != e.challenge {
		return *e, "code_verifier does not match the code_challenge"
	}
	e.used = true
	return *e, ""
}

// authorizationCodeGrant answers grant_type=authorization_code once the
// client is authenticated: a login of the user who approved.
func (s *Server) authorizationCodeGrant(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	code := f.Get("code")
	if code == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "code is required")
		return
	}
	c, reason := s.redeemCode(code, presentedClient(r), f.Get("redirect_uri"), f.Get("code_verifier"))
	if reason != "" {
		s.tally.failedLogins.Add(1)
		s.record(Event{Kind: EventLoginFailed, Via: viaOAuth2, User: c.user, Label: TokenLabel(code),
			Status: http.StatusBadRequest, Reason: reason})
		if s.loseReply(w, OpLogin, viaOAuth2) {
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", reason)
		return
	}
	p := s.tokens.login(c.user, s.now(), s.opts.AccessTTL, s.opts.RefreshTTL)
	s.flow.mu.Lock()
	if e := s.flow.codes[code]; e != nil {
		e.family = p.family
	}
	s.flow.mu.Unlock()
	s.tally.logins.Add(1)
	s.record(Event{Kind: EventLogin, Via: viaOAuth2, User: c.user, Family: p.family, Label: TokenLabel(code),
		Issued: issuedLabel(p), Status: http.StatusOK, Reason: "authorization code"})
	if s.loseReply(w, OpLogin, viaOAuth2) {
		return
	}
	body := s.oauth2Response(p, c.scope)
	s.putIDToken(body, c.scope, c.user, c.client, c.nonce, p.issued)
	s.writeToken(w, OpLogin, viaOAuth2, body)
}

// sweepFlowsLocked drops codes and device codes that expired over ten
// minutes ago. s.flow.mu must be held.
func (s *Server) sweepFlowsLocked() {
	old := s.now().Add(-10 * time.Minute)
	for k, e := range s.flow.codes {
		if e.expiry.Before(old) {
			delete(s.flow.codes, k)
		}
	}
	for k, e := range s.flow.devices {
		if e.expiry.Before(old) {
			delete(s.flow.devices, k)
		}
	}
}

// putIDToken adds an id_token to a login answer whose scope asks for
// "openid": an unsigned JWT (alg "none") with iss, sub, aud, iat, exp and
// the request's nonce. It is for tests that keep or read an id_token; it
// proves nothing and must not be accepted by a verifier.
func (s *Server) putIDToken(body map[string]any, scope, user, client, nonce string, issued time.Time) {
	if !strings.Contains(" "+scope+" ", " openid ") {
		return
	}
	claims := map[string]any{"iss": s.IssuerURL(), "sub": user, "aud": client,
		"iat": issued.Unix(), "exp": issued.Add(s.opts.AccessTTL).Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	body["id_token"] = unsignedJWT(claims)
}

// authPage answers a small HTML page for an authorization request that
// cannot be redirected back.
func authPage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte("<!DOCTYPE html>\n<html><head><title>" + title + "</title></head><body><h1>" +
		title + "</h1><p>" + text + "</p></body></html>\n"))
}
