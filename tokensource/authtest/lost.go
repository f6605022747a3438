package authtest

import (
	"io"
	"net"
	"net/http"
)

// LostReply says how [Server.ProcessThenFail] loses the answer to a
// processed request.
type LostReply int

const (
	// Lost504HTML answers 504 Gateway Timeout with a small HTML page, as a
	// proxy whose upstream timed out does.
	Lost504HTML LostReply = iota + 1
	// Lost504Empty answers 504 Gateway Timeout with an empty body.
	Lost504Empty
	// LostReset closes the connection (with a TCP reset where possible)
	// without writing any response: the client, having written its whole
	// request, reads a connection reset or EOF.
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
// and a family started; for [OpClientCredentials] (the client_credentials
// grant) an access token is issued. Only requests that reach the login or
// refresh logic count (see [Counters].LoginRequests and RefreshRequests),
// whatever their outcome: a refused refresh loses its error answer too. Each counts in
// [Counters].LostReplies and is recorded as an [EventReplyLost]. n <= 0
// clears the rule for op; a later call replaces it; an op other than
// OpLogin, OpRefresh and OpClientCredentials arms nothing.
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

// RotateThenFail is ProcessThenFail(OpRefresh, n, how): the server commits
// the rotation and the client never hears of it.
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
func (s *Server) loseReply(w http.ResponseWriter, op, via string) bool {
	how := s.takeLoss(op)
	if how == 0 {
		return false
	}
	s.tally.lost.Add(1)
	e := Event{Kind: EventReplyLost, Via: via, Status: http.StatusGatewayTimeout, Reason: op + " processed, answer lost"}
	if how == LostReset {
		e.Status, e.Reason = 0, op+" processed, connection reset"
	}
	s.record(e)
	switch how {
	case LostReset:
		s.tally.resets.Add(1)
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
// close_notify is sent. Where hijacking is not supported (HTTP/2) it
// panics with http.ErrAbortHandler, net/http's way to abort a response,
// which resets the stream.
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
