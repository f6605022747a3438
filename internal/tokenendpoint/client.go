package tokenendpoint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/tokenrefresh/tokenrefresh/internal/loopback"
)

// MaxResponseBytes caps how much of an answer is read.
const MaxResponseBytes = 1 << 20

// Defaults for the zero Retry and the built-in HTTP client.
const (
	defaultMaxAttempts    = 4
	defaultMinWait        = 500 * time.Millisecond
	defaultMaxWait        = 8 * time.Second
	defaultMaxRetryAfter  = 30 * time.Second
	defaultAttemptTimeout = 30 * time.Second
)

// Retry bounds re-sending a request; zero fields mean the defaults. Its
// fields are those of tokensource.RetryPolicy, which converts to it.
type Retry struct {
	MaxAttempts   int           // zero means 4
	MinWait       time.Duration // zero means 500ms
	MaxWait       time.Duration // zero means 8s
	MaxRetryAfter time.Duration // zero means 30s
}

func (p Retry) attempts() int {
	if p.MaxAttempts <= 0 {
		return defaultMaxAttempts
	}
	return p.MaxAttempts
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// backoff implements retryablehttp.Backoff: a capped Retry-After on 429 and
// 503, else exponential backoff with equal jitter.
func (p Retry) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && retryableStatus(resp.StatusCode) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, orDefault(p.MaxRetryAfter, defaultMaxRetryAfter))
		}
	}
	d := maxWait
	if attempt < 30 && minWait<<attempt < maxWait && minWait<<attempt > 0 {
		d = minWait << attempt
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryableStatus reports the statuses that say the server did not act on
// the request: 429 and 503.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Client sends the requests of one grant (or discoverer). The zero value
// is usable. A Client holds only configuration and is safe for concurrent
// use; every call builds its own retrying client, whose retry rule
// follows that call's attempts.
type Client struct {
	HTTPClient    *http.Client // each attempt's Transport and Timeout; nil = built-in
	Retry         Retry
	Logger        *slog.Logger // debug records about retries; nil = silent
	AllowInsecure bool         // permit http:// to any host
}

// Reply is the final answer of one call, retries included.
type Reply struct {
	Status   int
	Header   http.Header
	Body     []byte // at most MaxResponseBytes
	TooLarge bool   // the body was longer and is cut
	ReadErr  error  // the body could not be read in full
	Location string // origin (scheme://host) of a redirect's target, if any
}

// Success reports a 2xx answer.
func (r *Reply) Success() bool { return r.Status >= 200 && r.Status <= 299 }

func (r *Reply) redirect() bool { return r.Status >= 300 && r.Status <= 399 }

// callTrace follows the attempts of one call.
type callTrace struct {
	cur atomic.Pointer[attempt] // the attempt in progress, or the last one
	// lost reports that the last attempt failed after its request was
	// written: the server may have acted on it.
	lost atomic.Bool
}

// attempt records how far one request got, from the transport's
// httptrace events.
type attempt struct {
	canceled atomic.Bool // the context was done before the attempt began
	traced   atomic.Bool // the transport reports its progress (GetConn)
	gotConn  atomic.Bool // a connection was made, TLS handshake included
	wrote    atomic.Bool // the whole request was written
	partial  atomic.Bool // writing the request failed part-way
}

// unsent reports whether an attempt that failed with err provably never
// reached the server. Anything uncertain counts as sent.
func (a *attempt) unsent(err error) bool {
	switch {
	case a == nil:
		return connectError(err)
	case a.wrote.Load():
		return false
	case a.partial.Load(), a.canceled.Load():
		return true // the server never had the whole request
	case a.traced.Load():
		return !a.gotConn.Load()
	}
	// A transport that reports no progress: trust only errors that
	// happen before any connection exists.
	return connectError(err)
}

// connectError reports errors raised before a connection exists.
func connectError(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return (errors.As(err, &opErr) && opErr.Op == "dial") || errors.As(err, &dnsErr)
}

// checkURL validates an endpoint URL: https://, or http:// to a loopback
// host or when AllowInsecure is set.
func (c *Client) checkURL(raw string) *Failure {
	if raw == "" {
		return &Failure{Kind: KindBadURL, Detail: "no endpoint URL configured"}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return &Failure{Kind: KindBadURL, Detail: "invalid endpoint URL"}
	}
	if loopback.SecureURL(u) || (c.AllowInsecure && strings.EqualFold(u.Scheme, "http")) {
		return nil
	}
	return &Failure{Kind: KindInsecure, Detail: u.Scheme + "://" + u.Host}
}

// retrying builds the retrying client for one call. It follows no
// redirect, whatever the caller's client would do: the request carries
// credentials.
// keepAlive is how long the built-in client keeps an idle connection to a
// token endpoint for reuse; see Do.
const keepAlive = time.Second

// defaultTransport is the built-in client's transport: http.DefaultTransport
// with idle connections dropped after keepAlive.
var defaultTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.IdleConnTimeout = keepAlive
	return t
}()

// singleAttemptKey marks a context whose calls are made once, without
// re-sending: a probe of an endpoint known to be down.
type singleAttemptKey struct{}

// SingleAttempt returns ctx marked so that calls made with it send their
// request once, whatever the Retry policy says.
func SingleAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, singleAttemptKey{}, true)
}

func (c *Client) retrying(ctx context.Context, tr *callTrace) *retryablehttp.Client {
	retries := c.Retry.attempts() - 1
	if ctx.Value(singleAttemptKey{}) != nil {
		retries = 0
	}
	base := c.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: defaultAttemptTimeout, Transport: defaultTransport}
	}
	hc := *base
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = traceTransport{next: next, tr: tr}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &retryablehttp.Client{
		HTTPClient:   &hc,
		Logger:       nil, // its default logger prints every URL to stderr
		RetryWaitMin: orDefault(c.Retry.MinWait, defaultMinWait),
		RetryWaitMax: orDefault(c.Retry.MaxWait, defaultMaxWait),
		RetryMax:     retries,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			return checkRetry(ctx, resp, err, tr)
		},
		Backoff:      c.Retry.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, n int) {
			if n > 0 && c.Logger != nil {
				c.Logger.LogAttrs(req.Context(), slog.LevelDebug, "token endpoint retry",
					slog.Int("attempt", n+1), slog.String("host", req.URL.Host))
			}
		},
	}
}

// checkRetry re-sends only what provably did not reach the server: an
// attempt that failed before its request was written, or a 429 or 503.
// Every other answer is final, even once ctx is done, so that a token the
// server issued is never thrown away.
func checkRetry(ctx context.Context, resp *http.Response, err error, tr *callTrace) (bool, error) {
	if err != nil {
		lost := !tr.cur.Load().unsent(err)
		tr.lost.Store(lost)
		if lost || permanent(err) {
			return false, nil
		}
	} else {
		tr.lost.Store(false)
		if !retryableStatus(resp.StatusCode) {
			return false, nil
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	return true, nil
}

// permanent reports transport errors that a retry cannot fix.
func permanent(err error) bool {
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	return errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr)
}

// traceTransport records how far each attempt got.
type traceTransport struct {
	next http.RoundTripper
	tr   *callTrace
}

func (t traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a := &attempt{}
	a.canceled.Store(req.Context().Err() != nil)
	t.tr.cur.Store(a)
	trace := &httptrace.ClientTrace{
		GetConn: func(string) { a.traced.Store(true) },
		GotConn: func(httptrace.GotConnInfo) { a.gotConn.Store(true) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				a.wrote.Store(true)
			} else {
				a.partial.Store(true)
			}
		},
	}
	return t.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}

// Do sends call's request, re-sending it only when it provably did not
// reach the server, and reads the final answer through the size cap. A
// call that got no answer, or whose URL is refused, fails; any answer,
// whatever its status, is a Reply.
//
// A request must not go out on a kept-alive connection the server may be
// closing at that instant: written into a dying connection, its outcome
// would be unknown (a login, never a replay, but a needless one). With the
// built-in HTTP client a connection is reused only within keepAlive of its
// last use, well below the keep-alive timeouts of common servers (Apache's
// default 5 s is the shortest in wide use; a server that drops idle
// connections sooner can make a refresh's outcome unknown, which costs a
// login, never a replay); with a caller's HTTPClient, whose idle timeout
// is not ours to know, each attempt asks for a connection of its own
// (Connection: close).
func (c *Client) Do(ctx context.Context, call *Call) (*Reply, *Failure) {
	if f := c.checkURL(call.URL); f != nil {
		return nil, f
	}
	method := call.Method
	if method == "" {
		method = http.MethodPost
	}
	var body any // an untyped nil sends no body at all
	if call.Body != nil {
		body = call.Body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, call.URL, body)
	if err != nil {
		return nil, &Failure{Kind: KindBadURL, Detail: "cannot build request"}
	}
	for k, vs := range call.Header {
		req.Header[k] = vs // call.Header is ours and not changed during the call
	}
	req.Close = c.HTTPClient != nil
	var tr callTrace
	resp, err := c.retrying(ctx, &tr).Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, &Failure{Kind: KindTransport, Err: scrubError(err, call.Secrets), Unknown: call.Refresh && tr.lost.Load()}
	}
	defer resp.Body.Close()
	return read(resp), nil
}

// read reads resp's body through the size cap; a redirect's body is not
// read, only the origin of its target kept.
func read(resp *http.Response) *Reply {
	r := &Reply{Status: resp.StatusCode, Header: resp.Header}
	if r.redirect() {
		r.Location = redirectOrigin(resp)
		return r
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	r.Body, r.ReadErr = body, err
	if len(body) > MaxResponseBytes {
		r.Body, r.TooLarge = body[:MaxResponseBytes], true
	}
	return r
}

// redirectOrigin returns scheme://host[:port] of a redirect's target,
// never its path or query, or "" when there is no usable Location.
func redirectOrigin(resp *http.Response) string {
	u, err := resp.Location()
	if err != nil || u.Host == "" || u.Scheme == "" {
		return ""
	}
	return Truncate(strings.ToLower(u.Scheme)+"://"+u.Host, 120)
}
