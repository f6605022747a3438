package authtest

import (
	"net/http"
	"net/url"
	"time"
)

// clientCredentialsGrant answers the client credentials grant (RFC 6749
// section 4.4) once the client is authenticated: an access token, of a new
// family whose "user" is the client, with expires_in and never a refresh
// token (section 4.4.3).
func (s *Server) clientCredentialsGrant(w http.ResponseWriter, r *http.Request) {
	client := presentedClient(r)
	if client == "" {
		client = s.opts.ClientID
	}
	p := s.tokens.issueClient(client, s.now(), s.opts.AccessTTL)
	s.tally.clientCredentials.Add(1)
	s.record(Event{Kind: EventClientCredentials, Via: viaOAuth2, User: client, Family: p.family,
		Issued: issuedLabel(p), Status: http.StatusOK})
	if s.loseReply(w, OpClientCredentials, viaOAuth2) {
		return
	}
	s.writeToken(w, OpClientCredentials, viaOAuth2, s.oauth2Response(p, r.PostForm.Get("scope")))
}

// presentedClient returns the client id the request authenticated with, by
// HTTP Basic (form-decoded when it decodes) or the client_id form field.
func presentedClient(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	return r.PostForm.Get("client_id")
}

// issueClient starts a family for a client and issues its access token,
// with no refresh token.
func (ts *tokenStore) issueClient(client string, now time.Time, accessTTL time.Duration) pair {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.nextID++
	fam := &family{id: ts.nextID, user: client}
	ts.families[fam.id] = fam
	return ts.issueLocked(fam, now, accessTTL, 0, false)
}
