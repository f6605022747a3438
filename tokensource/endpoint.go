package tokensource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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

// ErrInsecureEndpoint is returned when a token endpoint URL is not https://
// and neither points at a loopback host (a loopback IP address or exactly
// "localhost") nor is explicitly allowed by the grant's AllowInsecureHTTP
// field.
var ErrInsecureEndpoint = errors.New("tokensource: token endpoint must use https")

// maxResponseBytes caps how much of a token-endpoint response is read.
const maxResponseBytes = 1 << 20

// Defaults for the zero [RetryPolicy] and the built-in HTTP client.
const (
	defaultMaxAttempts    = 4
	defaultMinWait        = 500 * time.Millisecond
	defaultMaxWait        = 8 * time.Second
	defaultMaxRetryAfter  = 30 * time.Second
	defaultAttemptTimeout = 30 * time.Second
)

// RetryPolicy bounds how a grant re-sends a token-endpoint request. The
// request may carry a single-use refresh token or a password, so it is
// re-sent only when it provably did not reach the server:
//   - no connection was made (DNS failure, refused or failed dial, TLS
//     handshake failure other than a bad certificate), or the request was
//     not written in full;
//   - the server answered 429 Too Many Requests or 503 Service Unavailable,
//     with or without Retry-After (honoured, capped by MaxRetryAfter).
//
// Everything after the request was written is final and never re-sent: a
// reset or timeout while waiting for the answer, 500, 502, 504 and every
// other 5xx, a redirect, a body that cannot be read. So are 501 and every
// 4xx. Waits grow exponentially with jitter; the caller's context ends the
// whole call, waits included. The zero value is a sensible default.
type RetryPolicy struct {
	// MaxAttempts is the number of requests made at most, the first one
	// included. Zero means 4; 1 disables retries.
	MaxAttempts int
	// MinWait is the base of the exponential backoff. Zero means 500ms.
	MinWait time.Duration
	// MaxWait caps one backoff wait. Zero means 8s.
	MaxWait time.Duration
	// MaxRetryAfter caps a server's Retry-After. Zero means 30s.
	MaxRetryAfter time.Duration
}

func (p RetryPolicy) attempts() int {
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
func (p RetryPolicy) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
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

// endpoint makes token-endpoint calls for one grant. It is built from the
// grant's fields on every call and never stored.
type endpoint struct {
	client        *http.Client // nil = built-in
	policy        RetryPolicy
	logger        *slog.Logger // nil = silent
	allowInsecure bool
}

// reply is the final answer of one logical call, retries included.
type reply struct {
	status   int
	header   http.Header
	body     []byte // at most maxResponseBytes
	tooLarge bool
	readErr  error  // the body could not be read in full
	location string // origin (scheme://host) of a redirect's target, if any
}

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

// checkURL validates a token endpoint URL.
func (e endpoint) checkURL(raw string) error {
	if raw == "" {
		return errors.New("tokensource: no endpoint URL configured")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("tokensource: invalid endpoint URL")
	}
	if loopback.SecureURL(u) || (e.allowInsecure && strings.EqualFold(u.Scheme, "http")) {
		return nil
	}
	return fmt.Errorf("%w: %s://%s", ErrInsecureEndpoint, u.Scheme, u.Host)
}

// retrying builds the retrying client for one call. It follows no
// redirect, whatever the caller's client would do: the request carries
// credentials.
func (e endpoint) retrying(tr *callTrace) *retryablehttp.Client {
	base := e.client
	if base == nil {
		base = &http.Client{Timeout: defaultAttemptTimeout}
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
		RetryWaitMin: orDefault(e.policy.MinWait, defaultMinWait),
		RetryWaitMax: orDefault(e.policy.MaxWait, defaultMaxWait),
		RetryMax:     e.policy.attempts() - 1,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			return checkRetry(ctx, resp, err, tr)
		},
		Backoff:      e.policy.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, n int) {
			if n > 0 && e.logger != nil {
				e.logger.LogAttrs(req.Context(), slog.LevelDebug, "token endpoint retry",
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
	return errors.Is(err, ErrInsecureEndpoint) ||
		errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr)
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

// lostError is a transport failure after the request was written: the
// server may have acted on it.
type lostError struct{ err error }

func (e *lostError) Error() string { return e.err.Error() }
func (e *lostError) Unwrap() error { return e.err }

// do sends req, re-sending only what provably did not reach the server,
// and reads the final response through the size cap. A nil reply comes
// with the transport or context error, wrapped in a *lostError when the
// request may have reached the server.
//
// Each attempt asks for a connection of its own (Connection: close), so an
// idle connection that the server dropped cannot leave the outcome of a
// request unknown.
func (e endpoint) do(req *retryablehttp.Request) (*reply, error) {
	req.Close = true
	var tr callTrace
	resp, err := e.retrying(&tr).Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if tr.lost.Load() {
			return nil, &lostError{err}
		}
		return nil, err
	}
	defer resp.Body.Close()
	r := &reply{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// Never read a redirect's body: it is not for us.
		r.location = redirectOrigin(resp)
		return r, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		r.readErr = fmt.Errorf("reading response: %w", err)
	}
	r.body = body
	if len(body) > maxResponseBytes {
		r.body, r.tooLarge = body[:maxResponseBytes], true
	}
	return r, nil
}

// redirectOrigin returns scheme://host[:port] of a redirect's target,
// never its path or query, or "" when there is no usable Location.
func redirectOrigin(resp *http.Response) string {
	u, err := resp.Location()
	if err != nil || u.Host == "" || u.Scheme == "" {
		return ""
	}
	return truncate(strings.ToLower(u.Scheme)+"://"+u.Host, 120)
}
