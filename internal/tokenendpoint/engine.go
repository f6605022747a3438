package tokenendpoint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// The retrying client (go-retryablehttp's) is built once per retry policy
// and shared: it holds nothing of a grant's but that policy, which carries
// no secret. What differs per call (the HTTP client's transport and
// timeout, the logger, the trace of the attempts, a single-attempt mark)
// travels in the request's context as a *callState, where the shared client's
// hooks and its transport find it. A Client therefore costs one small
// allocation to make, and a grant that makes one per call pays no more.
//
// A caller's HTTPClient with a cookie Jar is the exception: cookies are
// http.Client's business, not its transport's, so such a call gets a
// retrying client of its own, as every call did before.

// maxEngines bounds the shared retrying clients: a process has a policy
// or two; one that makes up policies on the fly gets a client per call
// beyond this many instead of an ever-growing cache.
const maxEngines = 32

// engines maps a normalised Retry to its shared *retryablehttp.Client. It
// only ever gains entries, each immutable once stored, and holds no
// secrets.
var (
	engines     sync.Map // Retry -> *retryablehttp.Client
	engineCount atomic.Int32
)

// normal returns p with the defaults filled in, so that the zero policy
// and one spelling out the defaults share a retrying client.
func (p Retry) normal() Retry {
	return Retry{MaxAttempts: p.attempts(), MinWait: orDefault(p.MinWait, defaultMinWait),
		MaxWait: orDefault(p.MaxWait, defaultMaxWait), MaxRetryAfter: orDefault(p.MaxRetryAfter, defaultMaxRetryAfter)}
}

// engine returns the retrying client for p: the shared one, or with jar,
// one of its own.
func engine(p Retry, jar http.CookieJar) *retryablehttp.Client {
	p = p.normal()
	if jar != nil {
		return newEngine(p, jar)
	}
	if e, ok := engines.Load(p); ok {
		return e.(*retryablehttp.Client)
	}
	e := newEngine(p, nil)
	if engineCount.Add(1) > maxEngines {
		return e
	}
	shared, _ := engines.LoadOrStore(p, e)
	return shared.(*retryablehttp.Client)
}

// newEngine builds a retrying client for p. It follows no redirect,
// whatever the caller's client would do: the request carries credentials.
func newEngine(p Retry, jar http.CookieJar) *retryablehttp.Client {
	return &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport:     attemptTransport{},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Jar:           jar,
		},
		Logger:       nil, // its default logger prints every URL to stderr
		RetryWaitMin: p.MinWait,
		RetryWaitMax: p.MaxWait,
		RetryMax:     p.MaxAttempts - 1,
		CheckRetry:   checkRetry,
		Backoff:      p.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, n int) {
			if cl := callOf(req.Context()); n > 0 && cl != nil && cl.logger != nil {
				cl.logger.LogAttrs(req.Context(), slog.LevelDebug, "token endpoint retry",
					slog.Int("attempt", n+1), slog.String("host", req.URL.Host))
			}
		},
	}
}

// callState is what one Do hands the shared retrying client through the
// request's context.
type callState struct {
	next    http.RoundTripper // the transport of each attempt
	timeout time.Duration     // the limit of each attempt; 0 for none
	logger  *slog.Logger      // nil for none
	single  bool              // send once, whatever the policy says

	cur atomic.Pointer[attempt] // the attempt in progress, or the last one
	// lost reports that the last attempt failed after its request was
	// written: the server may have acted on it.
	lost atomic.Bool
}

type callKey struct{}

// errNoCall is the error of a request that did not come from Do: a bug.
var errNoCall = errors.New("tokenendpoint: request without a call")

func callOf(ctx context.Context) *callState {
	cl, _ := ctx.Value(callKey{}).(*callState)
	return cl
}

// attempt records how far one request got, from the transport's
// httptrace events.
type attempt struct {
	canceled atomic.Bool // the context was done before the attempt began
	traced   atomic.Bool // the transport reports its progress (GetConn)
	gotConn  atomic.Bool // a connection was made, TLS handshake included
	wrote    atomic.Bool // the whole request was written
	partial  atomic.Bool // writing the request failed part-way

	trace httptrace.ClientTrace // reports to this attempt only
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

// checkRetry re-sends only what provably did not reach the server: an
// attempt that failed before its request was written, or a 429 or 503.
// Every other answer is final, even once ctx is done, so that a token the
// server issued is never thrown away.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	cl := callOf(ctx)
	if cl == nil {
		return false, errNoCall
	}
	if err != nil {
		lost := !cl.cur.Load().unsent(err)
		cl.lost.Store(lost)
		if lost || permanent(err) {
			return false, nil
		}
	} else {
		cl.lost.Store(false)
		if !retryableStatus(resp.StatusCode) {
			return false, nil
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	return !cl.single, nil
}

// permanent reports transport errors that a retry cannot fix.
func permanent(err error) bool {
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	return errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr)
}

// attemptTransport sends each attempt of a call through the call's
// transport, recording how far it got, within the call's per-attempt
// timeout (which, as http.Client.Timeout does, covers reading the body).
type attemptTransport struct{}

func (attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cl := callOf(ctx)
	if cl == nil {
		return nil, errNoCall
	}
	a := &attempt{}
	a.canceled.Store(ctx.Err() != nil)
	a.trace = httptrace.ClientTrace{
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
	cl.cur.Store(a)
	ctx = httptrace.WithClientTrace(ctx, &a.trace)
	cancel := context.CancelFunc(nil)
	if cl.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, cl.timeout)
	}
	resp, err := cl.next.RoundTrip(req.WithContext(ctx))
	switch {
	case cancel == nil:
	case err != nil || resp == nil || resp.Body == nil:
		cancel() // http.Client reports or replaces a missing body
	default:
		resp.Body = &timedBody{rc: resp.Body, cancel: cancel}
	}
	return resp, err
}

// timedBody ends an attempt's timeout once its body is read or closed.
type timedBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.cancel()
	}
	return n, err
}

func (b *timedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}
