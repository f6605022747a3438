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
// and neither points at a loopback host nor is explicitly allowed by the
// grant's AllowInsecureHTTP field.
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

// RetryPolicy bounds how a grant retries a token-endpoint call. Only
// transport errors, 429 and 5xx other than 501 are retried, never another
// 4xx: a refresh token may be single-use. The caller's context ends the
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
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
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

// reply is the outcome of one logical call, retries included.
type reply struct {
	status   int
	header   http.Header
	body     []byte // at most maxResponseBytes
	tooLarge bool
	// lostAfterSend reports that an earlier attempt failed with a
	// transport error after its request was written: the server may have
	// acted on it.
	lostAfterSend bool
}

// callTrace follows the attempts of one call.
type callTrace struct {
	wrote         atomic.Bool // the current attempt's request was written
	lostAfterSend atomic.Bool
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

// retrying builds the retrying client for one call.
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
	hc.CheckRedirect = e.checkRedirect(base.CheckRedirect)
	return &retryablehttp.Client{
		HTTPClient:   &hc,
		Logger:       nil, // its default logger prints every URL to stderr
		RetryWaitMin: orDefault(e.policy.MinWait, defaultMinWait),
		RetryWaitMax: orDefault(e.policy.MaxWait, defaultMaxWait),
		RetryMax:     e.policy.attempts() - 1,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			return e.checkRetry(ctx, resp, err, tr)
		},
		Backoff:      e.policy.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, req *http.Request, n int) {
			tr.wrote.Store(false)
			if n > 0 && e.logger != nil {
				e.logger.LogAttrs(req.Context(), slog.LevelDebug, "token endpoint retry",
					slog.Int("attempt", n+1), slog.String("host", req.URL.Host))
			}
		},
	}
}

// checkRedirect refuses a redirect that would carry credentials to an
// insecure URL, then applies the caller's policy (nil: at most 10 hops).
func (e endpoint) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if err := e.checkURL(req.URL.String()); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// checkRetry retries transport errors, 429 and 5xx except 501, and nothing
// once ctx is done.
func (e endpoint) checkRetry(ctx context.Context, resp *http.Response, err error, tr *callTrace) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	if err != nil {
		if tr.wrote.Load() {
			tr.lostAfterSend.Store(true)
		}
		return !permanent(err), nil
	}
	s := resp.StatusCode
	return s == http.StatusTooManyRequests || (s >= 500 && s != http.StatusNotImplemented), nil
}

// permanent reports transport errors that a retry cannot fix.
func permanent(err error) bool {
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	return errors.Is(err, ErrInsecureEndpoint) ||
		errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr)
}

// traceTransport notes when each attempt's request has been written.
type traceTransport struct {
	next http.RoundTripper
	tr   *callTrace
}

func (t traceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			t.tr.wrote.Store(true)
		}
	}}
	return t.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}

// do sends req with retries and reads the final response through the size
// cap. A nil reply comes with the transport or context error.
func (e endpoint) do(req *retryablehttp.Request) (*reply, error) {
	var tr callTrace
	resp, err := e.retrying(&tr).Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	r := &reply{status: resp.StatusCode, header: resp.Header, body: body, lostAfterSend: tr.lostAfterSend.Load()}
	if len(body) > maxResponseBytes {
		r.body, r.tooLarge = body[:maxResponseBytes], true
	}
	return r, nil
}

// transportError reports a call that got no usable response.
func transportError(op string, err error) error {
	return &TokenError{Op: op, Err: err}
}
