package demoserver

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Default lifetimes of issued tokens.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 12 * time.Hour
)

// maxBody caps every request body the server reads; larger bodies get 413.
const maxBody = 64 << 10

// ExpiresInStyle selects how token responses encode expires_in and
// refresh_expires_in, so clients can be tested against odd servers.
type ExpiresInStyle int

const (
	// ExpiresInNumber sends JSON numbers (the zero value, per RFC 6749).
	ExpiresInNumber ExpiresInStyle = iota
	// ExpiresInString sends decimal strings such as "900", as some
	// providers do.
	ExpiresInString
	// ExpiresInOmitted leaves both fields out.
	ExpiresInOmitted
	// ExpiresAtEpoch sends absolute expires_at and refresh_expires_at
	// instead, as JSON numbers of Unix seconds computed on the server's
	// clock (Now plus [Config].ClockOffset); pair it with the response's
	// Date header to measure the skew.
	ExpiresAtEpoch
)

// Config configures a [Server]. The zero value is usable: 15-minute access
// tokens, 12-hour refresh tokens, one user "alice" with password
// "wonderland", any OAuth2 client, the real clock, no logging.
type Config struct {
	// AccessTTL is the lifetime of access tokens; 0 means 15 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of each refresh token from its issue; 0
	// means 12 hours.
	RefreshTTL time.Duration
	// Users maps user names to passwords. nil means {"alice": "wonderland"};
	// an empty non-nil map means nobody can log in. New copies the map.
	Users map[string]string
	// ClientID is the OAuth2 client id /oauth2/* require; "" accepts any.
	ClientID string
	// ClientSecret is the OAuth2 client secret; "" allows public clients
	// (no secret, or any secret).
	ClientSecret string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClockOffset makes the server's own clock run ahead (positive) or
	// behind (negative) Now: token expiries and validity checks use
	// Now()+ClockOffset, and so does the Date header every response
	// carries (whatever the offset, Date comes from this clock, never from
	// net/http's real one).
	ClockOffset time.Duration
	// Logger receives one line per token event; nil means silent. Token
	// values and passwords are never logged.
	Logger *slog.Logger

	// ExpiresIn selects the encoding of expires_in in token responses.
	ExpiresIn ExpiresInStyle
	// TokenType is the token_type sent in token responses; "" means
	// "Bearer". Resources accept any case of the Bearer scheme regardless.
	TokenType string
	// DisableRotation makes refreshes return only a new access token (no
	// refresh_token field) and keep the presented refresh token valid, as
	// servers without rotation do.
	DisableRotation bool
	// AllowNonLoopback lets [Start] listen on a non-loopback address.
	AllowNonLoopback bool

	// ReuseGrace is how long after its rotation a spent refresh token may
	// still be presented without counting as reuse: within it the server
	// answers a fresh pair of the same family (counted in
	// [Stats].GraceReuses) and leaves every token of the family valid, as
	// Okta, Auth0 and Hydra do. 0 means no grace: any reuse revokes the
	// family.
	ReuseGrace time.Duration
	// MutateTokenResponse, when set, is called with the body of every
	// successful token response (op is [OpLogin] or [OpRefresh]; JSON API
	// and /oauth2/token alike) just before it is written as JSON, and may
	// change it freely: set expires_in to 0, -5, 1e12 or "soon",
	// token_type to 7, delete access_token... body holds access_token,
	// token_type and refresh_token (when issued) as strings, expires_in and
	// refresh_expires_in as int64 (strings with ExpiresInString; absent
	// with ExpiresInOmitted) or expires_at and refresh_expires_at as int64
	// (ExpiresAtEpoch), and scope when /oauth2/token was asked for one. The
	// tokens are issued and stored server-side exactly as usual whatever it
	// does. It is called concurrently from request goroutines, never for an
	// answer lost by [Server.ProcessThenFail].
	// [Server.SetMutateTokenResponse] replaces it.
	MutateTokenResponse func(op string, body map[string]any)
	// BadCredentialsStatus is the status answered for a wrong user name or
	// password (same error body); 0 (or a value outside 200..999) means 401
	// on /auth/login and 400 invalid_grant on the password grant. 500
	// mimics servers, such as go-oauth2's example, that answer a wrong
	// password with an internal error.
	BadCredentialsStatus int
}

// Operations passed to [Config].MutateTokenResponse and
// [Server.ProcessThenFail].
const (
	// OpLogin is a login: POST /auth/login or the password grant of
	// /oauth2/token.
	OpLogin = "login"
	// OpRefresh is a refresh: POST /auth/refresh or the refresh_token grant
	// of /oauth2/token.
	OpRefresh = "refresh"
)

// Server is the demo API and authorization server. It is an [http.Handler]
// and safe for concurrent use; create it with [New]. It owns no goroutines
// or connections: whoever serves it (httptest or [Start]) closes those.
type Server struct {
	cfg    Config // defaults applied; Users copied
	log    *slog.Logger
	mux    *http.ServeMux
	tokens *tokenStore
	stats  counters

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
}

var _ http.Handler = (*Server)(nil)

// New returns a Server configured by cfg (see [Config] for defaults).
func New(cfg Config) *Server {
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.Users == nil {
		cfg.Users = map[string]string{"alice": "wonderland"}
	} else {
		users := make(map[string]string, len(cfg.Users))
		for u, p := range cfg.Users {
			users[u] = p
		}
		cfg.Users = users
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenType == "" {
		cfg.TokenType = "Bearer"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:        cfg,
		log:        log,
		tokens:     newTokenStore(cfg.ReuseGrace),
		fails:      make(map[string]*injection),
		delays:     make(map[string]time.Duration),
		losses:     make(map[string]*lossRule),
		stopDelays: make(chan struct{}),
	}
	if cfg.MutateTokenResponse != nil {
		s.mutate.Store(&cfg.MutateTokenResponse)
	}
	s.mux = s.routes()
	return s
}

// now is the server's own clock: Config.Now plus Config.ClockOffset.
func (s *Server) now() time.Time { return s.cfg.Now().Add(s.cfg.ClockOffset) }

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /auth/login", s.handleLogin)
	m.HandleFunc("POST /auth/refresh", s.handleRefresh)
	m.HandleFunc("POST /auth/logout", s.handleLogout)
	m.HandleFunc("POST /oauth2/token", s.handleToken)
	m.HandleFunc("POST /oauth2/revoke", s.handleRevoke)
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

// ServeHTTP routes r, applying any delay, then any injected failure or
// redirect set for its path. Every answer carries a Date header from the
// server's clock (see [Config].ClockOffset).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
