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
}

// Server is the demo API and authorization server. It is an [http.Handler]
// and safe for concurrent use; create it with [New]. It owns no goroutines
// or connections: whoever serves it (httptest or [Start]) closes those.
type Server struct {
	cfg    Config // defaults applied; Users copied
	log    *slog.Logger
	mux    *http.ServeMux
	tokens *tokenStore
	stats  counters

	// injMu guards fails and delays.
	injMu  sync.Mutex
	fails  map[string]*failRule
	delays map[string]time.Duration
	// stopDelays is closed by StopDelays; stopOnce guards the close.
	stopDelays chan struct{}
	stopOnce   sync.Once
	// waiting counts requests sleeping in a delay (lets tests know a
	// request has arrived without timing it).
	waiting atomic.Int64
}

var _ http.Handler = (*Server)(nil)

// Stats is a snapshot of the server's counters, as answered by
// GET /debug/stats.
type Stats struct {
	// Logins counts successful logins (JSON API and password grant).
	Logins int64 `json:"logins"`
	// FailedLogins counts logins refused for bad credentials.
	FailedLogins int64 `json:"failed_logins"`
	// Refreshes counts successful refreshes.
	Refreshes int64 `json:"refreshes"`
	// FailedRefreshes counts refreshes refused (reused, expired, unknown or
	// revoked refresh token).
	FailedRefreshes int64 `json:"failed_refreshes"`
	// ReuseDetections counts spent refresh tokens presented again (each
	// revokes a family).
	ReuseDetections int64 `json:"reuse_detections"`
	// Unauthorized counts 401 answers from the protected /api/ resources.
	Unauthorized int64 `json:"unauthorized"`
	// Resources counts /api/ requests served with a valid access token.
	Resources int64 `json:"resources"`
	// Revocations counts explicit revocations: logout, /oauth2/revoke,
	// RevokeAccessTokens and RevokeAll (one each call).
	Revocations int64 `json:"revocations"`
	// InjectedFailures counts responses replaced by [Server.FailNext].
	InjectedFailures int64 `json:"injected_failures"`
	// ActiveFamilies is the number of token families that are not revoked
	// and whose current refresh token has not expired.
	ActiveFamilies int64 `json:"active_families"`
}

type counters struct {
	logins, failedLogins, refreshes, failedRefreshes atomic.Int64
	reuse, unauthorized, resources, revocations      atomic.Int64
	injected                                         atomic.Int64
}

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
		tokens:     newTokenStore(),
		fails:      make(map[string]*failRule),
		delays:     make(map[string]time.Duration),
		stopDelays: make(chan struct{}),
	}
	s.mux = s.routes()
	return s
}

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

// ServeHTTP routes r, applying any delay and injected failure set for its
// path first.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.wait(r) {
		return
	}
	if s.injectFailure(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (s *Server) Stats() Stats {
	return Stats{
		Logins:           s.stats.logins.Load(),
		FailedLogins:     s.stats.failedLogins.Load(),
		Refreshes:        s.stats.refreshes.Load(),
		FailedRefreshes:  s.stats.failedRefreshes.Load(),
		ReuseDetections:  s.stats.reuse.Load(),
		Unauthorized:     s.stats.unauthorized.Load(),
		Resources:        s.stats.resources.Load(),
		Revocations:      s.stats.revocations.Load(),
		InjectedFailures: s.stats.injected.Load(),
		ActiveFamilies:   int64(s.tokens.activeFamilies(s.cfg.Now())),
	}
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
