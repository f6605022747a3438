package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tokenrefresh/tokenrefresh/internal/loopback"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

// Source supplies the token to attach to a request. *tokensource.Source
// implements it. Implementations must be safe for concurrent use and return
// tokens that are never modified afterwards.
type Source interface {
	Token(ctx context.Context) (*tokensource.Token, error)
}

// Renewer is implemented by a [Source] that can replace a token a server
// rejected. Renew is given the token that was sent; if that is no longer
// the current token it returns the current one without a network call,
// otherwise it obtains a new one. *tokensource.Source implements it.
type Renewer interface {
	Renew(ctx context.Context, rejected *tokensource.Token) (*tokensource.Token, error)
}

// Acceptor is implemented by a [Source] that wants to know which tokens a
// server accepted (answered with anything but 401), so that it can tell a
// revoked token (renew at once) from an API that refuses every token
// (renewing does not help). *tokensource.Source implements it.
type Acceptor interface {
	Accepted(tok *tokensource.Token)
}

// Settler is implemented by a [Source] that can hold back a token a refresh
// in flight (or due) is about to replace. The Transport asks it for
// requests whose body cannot be replayed (Body set, GetBody nil): a server
// that kills the old access token on refresh would answer such a request
// 401, and it could not be retried. *tokensource.Source implements it.
type Settler interface {
	Settled(ctx context.Context) (*tokensource.Token, error)
}

// ErrInsecureTransport is returned by [Transport.RoundTrip], without asking
// the Source for a token, when a token would travel over plain http:// to a
// host that is not a loopback address and AllowInsecureHTTP is false.
var ErrInsecureTransport = errors.New("transport: refusing to send a token over plain http to a non-loopback host")

// errNoSource is returned when a Transport has no Source.
var errNoSource = errors.New("transport: Transport.Source is nil")

// Transport is an [http.RoundTripper] that adds an Authorization header
// from Source to each request and, when the server answers 401, renews the
// token and retries the request once. See the package documentation for
// the rules it follows.
//
// A Transport is safe for concurrent use once its fields are set; do not
// change them while requests are in flight. Its zero value is not usable:
// Source is required.
type Transport struct {
	// Source supplies tokens. Required. If it also implements [Renewer],
	// rejected tokens are renewed; otherwise a 401 is handed back as is
	// (unless Source already holds a newer token).
	Source Source
	// Base sends the requests. Nil means [http.DefaultTransport]. Place a
	// retrying RoundTripper here, under the token layer, configured never
	// to retry a 401.
	Base http.RoundTripper
	// AllowInsecureHTTP permits sending tokens over plain http:// to hosts
	// that are not loopback. Leave it false outside tests and local
	// development.
	AllowInsecureHTTP bool
	// Logger receives debug and warning records about intercepted 401s and
	// renewals. Nil means silent. Records never contain a token.
	Logger *slog.Logger
	// OnEvent, if not nil, is called synchronously with
	// tokensource.EventRequestUnauthorized when a 401 is intercepted and with
	// tokensource.EventRequestStaleRetry when a request is retried with a token
	// that was already newer than the rejected one. It must be fast and
	// safe for concurrent use.
	OnEvent func(tokensource.Event)
}

var _ http.RoundTripper = (*Transport)(nil)

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements [http.RoundTripper]. It never modifies req, closes
// req.Body on every path, and returns a nil error whenever a response was
// obtained, including 401 and other error statuses.
//
// The error wraps the Source's error when no token could be obtained or
// renewed (so errors.Is(err, tokensource.ErrReauthRequired) works), or is
// [ErrInsecureTransport].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if hasAuthorization(req.Header) || !sameOrigin(req) {
		// The caller chose its own credentials, or this is a redirect hop
		// to another origin: send it as is.
		return t.base().RoundTrip(req)
	}
	if !t.AllowInsecureHTTP && !secureURL(req) {
		closeBody(req)
		return nil, ErrInsecureTransport
	}
	if t.Source == nil {
		closeBody(req)
		return nil, errNoSource
	}
	ctx := req.Context()
	tok, err := t.token(ctx, req)
	if err == nil && tok == nil {
		err = errors.New("no token")
	}
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("transport: token: %w", err)
	}
	resp, err := t.base().RoundTrip(withToken(req, tok, req.Body))
	if err != nil {
		return resp, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.accepted(tok)
		return resp, nil
	}
	return t.unauthorized(req, tok, resp)
}

// token asks Source for the token to send req with: Settled when req's
// body cannot be replayed and Source can wait for a refresh, else Token.
func (t *Transport) token(ctx context.Context, req *http.Request) (*tokensource.Token, error) {
	if !replayable(req) {
		if st, ok := t.Source.(Settler); ok {
			return st.Settled(ctx)
		}
	}
	return t.Source.Token(ctx)
}

// unauthorized handles a 401 answer to req sent with tok: it renews the
// token if the challenge allows, and retries once if the body can be
// replayed. It never loops.
func (t *Transport) unauthorized(req *http.Request, tok *tokensource.Token, resp *http.Response) (*http.Response, error) {
	ctx := req.Context()
	switch classify(resp.Header, tok.Type()) {
	case foreign:
		t.debug(ctx, "401 carries no challenge for our scheme; returned as is", req)
		return resp, nil
	case refused:
		t.debug(ctx, "401 challenge is not about an invalid token; returned as is", req)
		return resp, nil
	}
	t.event(tokensource.Event{Kind: tokensource.EventRequestUnauthorized, Trigger: tokensource.TriggerRenew})
	t.debug(ctx, "401 intercepted", req)
	// Free the connection before renewing: the token endpoint may be
	// reached through the same Base and its connection limits. The read
	// is bounded in size and time, so a server that stalls the 401 body
	// costs its connection, not the caller's wait.
	buffer(resp)

	fresh, err := t.renew(ctx, tok)
	if err != nil {
		discard(resp)
		t.warn(ctx, "token renewal after 401 failed", req, err)
		return nil, fmt.Errorf("transport: renew after 401: %w", err)
	}
	if fresh == nil || fresh.AccessToken == tok.AccessToken {
		t.debug(ctx, "no other token to retry with; 401 returned", req)
		return resp, nil
	}
	if !replayable(req) {
		t.debug(ctx, "request body cannot be replayed; 401 returned after renewal", req)
		return resp, nil
	}
	body := req.Body
	if req.GetBody != nil && body != nil {
		body, err = req.GetBody()
		if err != nil {
			t.warn(ctx, "request body cannot be replayed; 401 returned after renewal", req, err)
			return resp, nil
		}
	}
	discard(resp)
	resp, err = t.base().RoundTrip(withToken(req, fresh, body))
	if err == nil && resp.StatusCode != http.StatusUnauthorized {
		t.accepted(fresh)
	}
	return resp, err
}

// accepted tells an [Acceptor] Source that a server accepted tok.
func (t *Transport) accepted(tok *tokensource.Token) {
	// The concrete case first: comparing a type word is cheaper than the
	// interface lookup, on every request.
	switch s := t.Source.(type) {
	case *tokensource.Source:
		s.Accepted(tok)
	case Acceptor:
		s.Accepted(tok)
	}
}

// renew returns the token to retry with after tok was rejected. If the
// Source already holds a different token (someone renewed meanwhile) it is
// used at once and no refresh happens. Otherwise Renew is asked, when the
// Source implements Renewer; when it does not, renew returns tok itself
// (nothing better is available).
func (t *Transport) renew(ctx context.Context, tok *tokensource.Token) (*tokensource.Token, error) {
	cur, err := t.Source.Token(ctx)
	if err == nil && cur != nil && cur.AccessToken != tok.AccessToken {
		t.event(tokensource.Event{Kind: tokensource.EventRequestStaleRetry, Trigger: tokensource.TriggerRenew})
		return cur, nil
	}
	r, ok := t.Source.(Renewer)
	if !ok {
		return tok, nil
	}
	return r.Renew(ctx, tok)
}

// Request copies with room for their header values, in two sizes that
// fill their allocation size classes (352 and 448 bytes with Go 1.26's
// 304-byte http.Request): a request with few headers costs one
// allocation for the copy and its values, plus the two of its header map.
type (
	authorized3 struct {
		req  http.Request
		vals [3]string
	}
	authorized9 struct {
		req  http.Request
		vals [9]string
	}
)

// withToken returns a shallow copy of req with its own Header map carrying
// tok's Authorization value and with body as its Body. Header values are
// copied (the caller's slices are never shared) into an array allocated
// with the request, sized by the number of header keys; only a request
// with more values than the array holds needs one more allocation. The
// header map is walked once.
func withToken(req *http.Request, tok *tokensource.Token, body io.ReadCloser) *http.Request {
	var r2 *http.Request
	var vals []string
	if len(req.Header) <= 2 {
		a := new(authorized3)
		r2, vals = &a.req, a.vals[:]
	} else {
		a := new(authorized9)
		r2, vals = &a.req, a.vals[:]
	}
	*r2 = *req
	r2.Body = body

	vals[0] = tok.AuthorizationValue()
	free := vals[1:]
	h := make(http.Header, len(req.Header)+1)
	for k, vv := range req.Header {
		if len(vv) > len(free) {
			// Room for this header and, typically, the rest of them.
			free = make([]string, max(len(vv), len(req.Header)))
		}
		m := copy(free, vv)
		h[k] = free[:m:m]
		free = free[m:]
	}
	h["Authorization"] = vals[:1:1]
	r2.Header = h
	return r2
}

// hasAuthorization is h.Get("Authorization") != "" without canonicalising
// a key that is canonical already.
func hasAuthorization(h http.Header) bool {
	v := h["Authorization"]
	return len(v) > 0 && v[0] != ""
}

// sameOrigin reports whether req goes to the same scheme, host and port as
// the first request of its redirect chain. A request that is not a redirect
// hop is trivially same-origin.
func sameOrigin(req *http.Request) bool {
	if req.Response == nil {
		return true
	}
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return origin(first) == origin(req)
}

// origin returns "scheme://host:port" in lower case, with the default port
// filled in.
func origin(r *http.Request) string {
	scheme := strings.ToLower(r.URL.Scheme)
	host := strings.ToLower(r.URL.Hostname())
	port := r.URL.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + host + ":" + port
}

// secureURL reports whether a token may be sent with req: https, or http
// to a loopback host. The https case, the common one, is decided without
// allocating.
func secureURL(req *http.Request) bool {
	if req.URL.Scheme == "https" {
		return true
	}
	return loopback.SecureURL(req.URL)
}

// replayable reports whether req can be sent again: it has no body, or
// GetBody can make a new one.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// closeBody closes req.Body, if any, for paths that never reach Base.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func (t *Transport) event(e tokensource.Event) {
	if t.OnEvent != nil {
		t.OnEvent(e)
	}
}

// debug logs msg with the request's method and host; never its URL path,
// query or headers, which may carry secrets.
func (t *Transport) debug(ctx context.Context, msg string, req *http.Request) {
	if t.Logger == nil {
		return
	}
	t.Logger.LogAttrs(ctx, slog.LevelDebug, msg,
		slog.String("method", req.Method), slog.String("host", req.URL.Host))
}

// warn logs a failure with its error. Errors from tokensource never carry
// token values.
func (t *Transport) warn(ctx context.Context, msg string, req *http.Request, err error) {
	if t.Logger == nil {
		return
	}
	t.Logger.LogAttrs(ctx, slog.LevelWarn, msg,
		slog.String("method", req.Method), slog.String("host", req.URL.Host),
		slog.String("error", err.Error()))
}
