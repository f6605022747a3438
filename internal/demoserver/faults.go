package demoserver

import (
	"io"
	"net"
	"net/http"
	"strings"
)

// Fault is an answer injected in place of serving a request
// ([Server.FailNextWith]): the request is not processed, so a refresh token
// it carries is not spent and a login starts no family.
type Fault struct {
	// Status is the status code; one outside 100..999 is sent as 500.
	Status int
	// Header holds response headers to send, such as Retry-After: 1; nil
	// means none. It is copied when the fault is armed.
	Header http.Header
	// Body is the response body. Unless Header sets a Content-Type, it is
	// guessed: application/json when Body starts with '{', text/html when
	// it starts with '<', text/plain otherwise.
	Body string
}

// injection is a pending injected answer for one path: a fault or, with
// redirect set, a redirect with status fault.Status to location ("" means
// the request's own URL).
type injection struct {
	n        int
	fault    Fault
	redirect bool
	location string
}

// FailNextWith makes the next n requests to path (exact match on the URL
// path, any method) answer f instead of being served, after any delay set
// by [Server.SetDelay]; each counts in [Stats].InjectedFailures. n <= 0
// clears the rule. A later call of FailNext, FailNextWith or
// [Server.RedirectNext] for path replaces the rule. Safe for concurrent use.
func (s *Server) FailNextWith(path string, n int, f Fault) {
	if f.Status < 100 || f.Status > 999 {
		f.Status = http.StatusInternalServerError
	}
	f.Header = f.Header.Clone()
	s.arm(path, n, &injection{n: n, fault: f})
}

// RedirectNext makes the next n requests to path (exact match, any method)
// answer a redirect with status (a 3xx; any other value means 307) and a
// Location header, instead of being served: the redirected request is not
// processed. location "" means the request's own path and query, a
// redirect loop. Each counts in [Stats].InjectedRedirects. n <= 0 clears
// the rule; a later FailNext, FailNextWith or RedirectNext for path
// replaces it. Safe for concurrent use.
func (s *Server) RedirectNext(path string, n int, status int, location string) {
	if status < 300 || status > 399 {
		status = http.StatusTemporaryRedirect
	}
	s.arm(path, n, &injection{n: n, fault: Fault{Status: status}, redirect: true, location: location})
}

// arm installs inj for path, or clears the rule when n <= 0.
func (s *Server) arm(path string, n int, inj *injection) {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if n <= 0 {
		delete(s.fails, path)
		return
	}
	s.fails[path] = inj
}

// takeInjection consumes one use of the rule for path, if any.
func (s *Server) takeInjection(path string) (injection, bool) {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	inj, ok := s.fails[path]
	if !ok {
		return injection{}, false
	}
	inj.n--
	if inj.n <= 0 {
		delete(s.fails, path)
	}
	return *inj, true
}

// injectFailure answers r with a pending injected failure or redirect for
// its path, if any, and reports whether it did.
func (s *Server) injectFailure(w http.ResponseWriter, r *http.Request) bool {
	inj, ok := s.takeInjection(r.URL.Path)
	if !ok {
		return false
	}
	if inj.redirect {
		s.stats.redirects.Add(1)
		loc := inj.location
		if loc == "" {
			loc = r.URL.RequestURI()
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(inj.fault.Status)
		return true
	}
	s.stats.injected.Add(1)
	writeFault(w, inj.fault)
	return true
}

// writeFault answers f.
func writeFault(w http.ResponseWriter, f Fault) {
	h := w.Header()
	for k, vs := range f.Header {
		h[k] = append([]string(nil), vs...)
	}
	if h.Get("Content-Type") == "" {
		ct := "text/plain; charset=utf-8"
		switch t := strings.TrimSpace(f.Body); {
		case strings.HasPrefix(t, "{"):
			ct = "application/json"
		case strings.HasPrefix(t, "<"):
			ct = "text/html; charset=utf-8"
		}
		h.Set("Content-Type", ct)
	}
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}

// LostReply says how [Server.ProcessThenFail] loses the answer to a
// processed request.
type LostReply int

const (
	// Lost504HTML answers 504 Gateway Timeout with a small HTML page, as a
	// proxy whose upstream timed out does.
	Lost504HTML LostReply = iota + 1
	// Lost504Empty answers 504 Gateway Timeout with an empty body.
	Lost504Empty
	// LostReset hijacks the connection and closes it (with a TCP reset
	// where possible) without writing any response: the client, having
	// written its whole request, reads a connection reset or EOF. Over
	// HTTP/2, where connections cannot be hijacked, the handler aborts with
	// [http.ErrAbortHandler] instead, which resets the stream.
	LostReset
)

// gatewayTimeoutHTML is the body of Lost504HTML.
const gatewayTimeoutHTML = "<html><head><title>504 Gateway Time-out</title></head>" +
	"<body><center><h1>504 Gateway Time-out</h1></center></body></html>\n"

// lossRule is a pending ProcessThenFail for one op.
type lossRule struct {
	n   int
	how LostReply
}

// ProcessThenFail makes the next n requests of kind op be processed exactly
// as usual, and then loses their answer as how says (a how outside the
// LostReply constants means Lost504HTML). For [OpRefresh] (POST
// /auth/refresh and the refresh_token grant of /oauth2/token) this is
// rotate-then-fail: the presented refresh token is spent and the new pair
// is stored and valid server-side, but the client never receives it. For
// [OpLogin] (POST /auth/login and the password grant) the login is checked
// and a family started. Only requests that reach the login or refresh logic
// count (see [Stats].LoginRequests and [Stats].RefreshRequests), whatever
// their outcome: a refused refresh loses its error answer too. Each counts
// in [Stats].LostReplies. n <= 0 clears the rule for op; a later call
// replaces it; an op other than OpLogin and OpRefresh arms nothing. Safe
// for concurrent use.
func (s *Server) ProcessThenFail(op string, n int, how LostReply) {
	if how < Lost504HTML || how > LostReset {
		how = Lost504HTML
	}
	s.injMu.Lock()
	defer s.injMu.Unlock()
	if n <= 0 {
		delete(s.losses, op)
		return
	}
	s.losses[op] = &lossRule{n: n, how: how}
}

// RotateThenFail is ProcessThenFail(OpRefresh, n, how).
func (s *Server) RotateThenFail(n int, how LostReply) {
	s.ProcessThenFail(OpRefresh, n, how)
}

// takeLoss consumes one use of the loss rule for op; 0 means none.
func (s *Server) takeLoss(op string) LostReply {
	s.injMu.Lock()
	defer s.injMu.Unlock()
	rule, ok := s.losses[op]
	if !ok {
		return 0
	}
	rule.n--
	if rule.n <= 0 {
		delete(s.losses, op)
	}
	return rule.how
}

// loseReply loses the answer to a processed op request when a loss is
// armed for op, and reports whether it did (w must not be used then).
func (s *Server) loseReply(w http.ResponseWriter, op string) bool {
	how := s.takeLoss(op)
	if how == 0 {
		return false
	}
	s.stats.lost.Add(1)
	s.log.Info("demoserver: answer lost on purpose", "op", op, "reset", how == LostReset)
	switch how {
	case LostReset:
		s.stats.resets.Add(1)
		resetConn(w)
	case Lost504Empty:
		w.WriteHeader(http.StatusGatewayTimeout)
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusGatewayTimeout)
		_, _ = io.WriteString(w, gatewayTimeoutHTML)
	}
	return true
}

// resetConn closes w's connection without a response: hijacked, with
// SO_LINGER 0 so the peer gets a TCP reset, below any TLS layer so no
// close_notify is sent. Where hijacking is not supported it panics with
// http.ErrAbortHandler, net/http's way to abort a response.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = tc.NetConn()
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
