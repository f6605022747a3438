package tokenendpoint

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
// use. It costs one small allocation to make: the retrying client behind
// it is shared by every Client with the same Retry (see engine).
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
	cl := &callState{logger: c.Logger, single: ctx.Value(singleAttemptKey{}) != nil}
	var jar http.CookieJar
	if hc := c.HTTPClient; hc != nil {
		cl.next, cl.timeout, jar = hc.Transport, hc.Timeout, hc.Jar
		if cl.next == nil {
			cl.next = http.DefaultTransport
		}
	} else {
		cl.next, cl.timeout = defaultTransport, defaultAttemptTimeout
	}
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, callKey{}, cl), method, call.URL, body)
	if err != nil {
		return nil, &Failure{Kind: KindBadURL, Detail: "cannot build request"}
	}
	for k, vs := range call.Header {
		req.Header[k] = vs // call.Header is ours and not changed during the call
	}
	req.Close = c.HTTPClient != nil
	resp, err := engine(c.Retry, jar).Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, &Failure{Kind: KindTransport, Err: scrubError(err, call.Secrets), Unknown: call.Refresh && cl.lost.Load()}
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
