package authtest

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody caps every request body the server reads; larger bodies get 413.
const maxBody = 64 << 10

// Server is a fake authorization server and protected API listening on a
// loopback port, made by [NewServer] (tests) or [New] (programs). All its
// methods are safe for concurrent use. Servers share nothing: tests that
// each make their own may run in parallel.
//
// The exported fields are set by the constructor for the caller's
// convenience; changing them changes nothing on the server.
type Server struct {
	// URL is the base URL, such as "http://127.0.0.1:41234" (no trailing
	// slash).
	URL string
	// User and Password are credentials that log in: "alice" and
	// "wonderland" by default, else the alphabetically first of
	// [Options].Users (both "" when that map is empty).
	User, Password string
	// ClientID and ClientSecret are OAuth2 client credentials that
	// /oauth2/token accepts (see [Options].ClientID).
	ClientID, ClientSecret string

	opts   Options // defaults applied; Users copied
	log    *slog.Logger
	mux    *http.ServeMux
	tokens *tokenStore
	tally  tally
	events eventLog
	flow   *flows // authorization codes, decisions, device codes

	// mutate holds the current MutateTokenResponse (nil pointer: none).
	mutate atomic.Pointer[func(op string, body map[string]any)]

	// injMu guards fails, delays and losses.
	injMu  sync.Mutex
	fails  map[string]*injection
	delays map[string]time.Duration
	losses map[string]*lossRule
	// stopDelays is closed by StopDelays; stopOnce guards the close.
	stopDelays chan struct{}
	stopOnce   sync.Once
	// waiting counts requests sleeping in a delay (lets tests know a
	// request has arrived without timing it).
	waiting atomic.Int64

	// life is the serving side, set once by New.
	life listener
}

// newServer returns a Server that does not listen yet: the state and the
// handler, with o's defaults applied.
func newServer(o Options) *Server {
	o = o.withDefaults()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		opts:         o,
		log:          log,
		tokens:       newTokenStore(o.ReuseGrace),
		flow:         newFlows(),
		fails:        make(map[string]*injection),
		delays:       make(map[string]time.Duration),
		losses:       make(map[string]*lossRule),
		stopDelays:   make(chan struct{}),
	}
	s.User, s.Password = firstUser(o.Users)
	if o.MutateTokenResponse != nil {
		s.mutate.Store(&o.MutateTokenResponse)
	}
	s.mux = s.routes()
	return s
}

// firstUser returns the alphabetically first user and its password.
func firstUser(users map[string]string) (user, password string) {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	if len(names) == 0 {
		return "", ""
	}
	sort.Strings(names)
	return names[0], users[names[0]]
}

// TokenURL returns the RFC 6749 token endpoint: URL + "/oauth2/token".
func (s *Server) TokenURL() string { return s.URL + pathToken }

// RevokeURL returns the RFC 7009 revocation endpoint: URL + "/oauth2/revoke".
func (s *Server) RevokeURL() string { return s.URL + pathRevoke }

// LoginURL returns the JSON API's login endpoint: URL + "/auth/login".
func (s *Server) LoginURL() string { return s.URL + pathLogin }

// RefreshURL returns the JSON API's refresh endpoint: URL + "/auth/refresh".
func (s *Server) RefreshURL() string { return s.URL + pathRefresh }

// LogoutURL returns the JSON API's logout endpoint: URL + "/auth/logout".
func (s *Server) LogoutURL() string { return s.URL + pathLogout }

// APIURL returns the URL of a protected resource: path is the path below
// the API's root, with a leading slash (added when missing), such as
// "/items/1" for URL + "/api/items/1".
func (s *Server) APIURL(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return s.URL + apiRoot + path
}

// Paths of the endpoints.
const (
	pathLogin   = "/auth/login"
	pathRefresh = "/auth/refresh"
	pathLogout  = "/auth/logout"
	pathToken   = "/oauth2/token"
	pathRevoke  = "/oauth2/revoke"
	apiRoot     = "/api"
)

// now is the server's own clock: Options.Now plus Options.ClockOffset.
func (s *Server) now() time.Time { return s.opts.Now().Add(s.opts.ClockOffset) }

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST "+pathLogin, s.handleLogin)
	m.HandleFunc("POST "+pathRefresh, s.handleRefresh)
	m.HandleFunc("POST "+pathLogout, s.handleLogout)
	m.HandleFunc("POST "+pathToken, s.handleToken)
	m.HandleFunc("POST "+pathRevoke, s.handleRevoke)
	m.HandleFunc("GET "+pathAuthorize, s.handleAuthorize)
	m.HandleFunc("POST "+pathDeviceAuthorization, s.handleDeviceAuthorization)
	m.HandleFunc("GET "+pathDeviceVerification, s.handleVerification)
	m.HandleFunc("POST "+pathDeviceVerification, s.handleVerification)
	m.HandleFunc("GET "+pathOAuthMetadata, s.handleMetadata)
	m.HandleFunc("GET "+pathOIDCMetadata, s.handleMetadata)
	s.debugRoutes(m)
	m.HandleFunc("GET /api/profile", s.protect(s.handleProfile))
	m.HandleFunc("GET /api/items", s.protect(s.handleItems))
	m.HandleFunc("GET /api/items/{id}", s.protect(s.handleItem))
	m.HandleFunc("GET /api/large", s.protect(s.handleLarge))
	m.HandleFunc("POST /api/echo", s.protect(s.handleEcho))
	m.HandleFunc("GET /api/redirect", s.protect(s.handleRedirect))
	m.HandleFunc("/api/", s.protect(s.handleNotFound))
	return m
}

// serveHTTP routes r, applying any delay, then any injected failure or
// redirect set for it. Every answer carries a Date header from the
// server's clock (see [Options].ClockOffset).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.wait(r) {
		return
	}
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	if s.injectFailure(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// errorBody is the RFC 6749 section 5.2 error shape, used by every endpoint.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, errorBody{Error: code, Description: desc})
}

// readBody reads r's body up to maxBody. On failure it has answered 413 or
// 400 and returns ok false.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body too large")
		} else {
			writeError(w, http.StatusBadRequest, "invalid_request", "cannot read request body")
		}
		return nil, false
	}
	return b, true
}

// decodeJSON reads r's body as JSON into v, answering 400/413 on failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, ok := readBody(w, r)
	if !ok {
		return false
	}
	return decodeJSONBytes(w, b, v)
}

// decodeJSONBytes decodes b into v, answering 400 on failure.
func decodeJSONBytes(w http.ResponseWriter, b []byte, v any) bool {
	if err := json.Unmarshal(b, v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "malformed JSON body")
		return false
	}
	return true
}
