package tokensource

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Defaults of the zero [Discoverer].
const (
	defaultDiscoveryTTL     = time.Hour
	defaultDiscoveryTimeout = 30 * time.Second
)

// Discoverer fetches authorization server metadata and caches it per
// issuer. Its zero value is usable; a Discoverer is safe for concurrent use
// and must not be copied after first use. The configuration fields must not
// be changed after the first call.
type Discoverer struct {
	// HTTPClient makes each request: its Transport and Timeout are used,
	// its CheckRedirect is not (no redirect is followed). Nil means a
	// client on http.DefaultTransport with a 30s timeout per attempt.
	HTTPClient *http.Client
	// Retry bounds re-sending a request, as for the token endpoint: only
	// requests that provably did not reach the server, and 429 or 503
	// answers. The zero value is a sensible default.
	Retry RetryPolicy
	// Timeout bounds one discovery, both well-known URLs and all retries
	// included, whatever the callers' contexts allow. Zero means 30s.
	Timeout time.Duration
	// TTL is how long a successful document is reused for its issuer.
	// Zero means one hour; a negative TTL disables the cache (concurrent
	// calls for one issuer still share one discovery). Failures are never
	// cached.
	TTL time.Duration
	// AllowInsecureHTTP permits http:// issuers and endpoints on
	// non-loopback hosts.
	AllowInsecureHTTP bool
	// Now is the clock of the cache. Nil means time.Now.
	Now func() time.Time
	// Logger receives debug records about retries. Nil means silent.
	Logger *slog.Logger

	// mu guards flights.
	mu      sync.Mutex
	flights map[string]*discovery
}

// discovery is one fetch of an issuer's metadata and, once done is closed,
// its result. meta, err and expires are written before done is closed and
// read only after; waiters and cancel are guarded by Discoverer.mu.
type discovery struct {
	done    chan struct{}
	meta    *Metadata
	err     error
	expires time.Time
	waiters int
	cancel  context.CancelFunc
}

func (d *discovery) finished() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (d *Discoverer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// Discover returns the metadata of the authorization server issuer from
// the cache, or fetches it: first the RFC 8414 document, at issuer's host
// followed by "/.well-known/oauth-authorization-server" and issuer's path;
// when that answers a 4xx other than 429, a redirect or something that is
// not JSON, the OpenID Connect Discovery document at issuer +
// "/.well-known/openid-configuration". A terminating "/" of issuer's path
// is dropped in both URLs.
//
// The document is accepted only when its "issuer" is identical to issuer
// (RFC 8414 section 3.3; otherwise an [*IssuerMismatchError]), when issuer
// and every endpoint URL in it are https:// or http:// to a loopback host
// (otherwise [ErrInsecureEndpoint]), and when it is a JSON object of at
// most 256 KiB. No redirect is followed: a document is read from the
// issuer's own URLs only. Errors are [*DiscoveryError].
//
// Concurrent calls for one issuer share one fetch, which runs detached from
// the callers' contexts, bounded by Timeout; each caller stops waiting when
// its own ctx is done (the error then wraps ctx.Err()), and the fetch is
// abandoned when every caller has. The returned Metadata is the caller's.
func (d *Discoverer) Discover(ctx context.Context, issuer string) (*Metadata, error) {
	if err := ctx.Err(); err != nil {
		return nil, &DiscoveryError{Issuer: redactedURL(issuer), Err: err}
	}
	d.mu.Lock()
	f := d.flights[issuer]
	if f == nil || (f.finished() && !d.now().Before(f.expires)) {
		f = d.startLocked(ctx, issuer)
	}
	f.waiters++
	d.mu.Unlock()
	select {
	case <-f.done:
		d.leave(issuer, f)
		if f.err != nil {
			return nil, f.err
		}
		return f.meta.clone(), nil
	case <-ctx.Done():
		d.leave(issuer, f)
		return nil, &DiscoveryError{Issuer: redactedURL(issuer), Err: ctx.Err()}
	}
}

// leave records that a waiter of f is gone, abandoning f when it was the
// last one and f is still running.
func (d *Discoverer) leave(issuer string, f *discovery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && !f.finished() {
		f.cancel()
		if d.flights[issuer] == f {
			delete(d.flights, issuer)
		}
	}
}

// startLocked starts a fetch of issuer's metadata and installs it; d.mu is
// held. Expired entries of other issuers are dropped on the way.
func (d *Discoverer) startLocked(ctx context.Context, issuer string) *discovery {
	if d.flights == nil {
		d.flights = make(map[string]*discovery)
	}
	now := d.now()
	for k, f := range d.flights {
		if f.finished() && !now.Before(f.expires) {
			delete(d.flights, k)
		}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(d.Timeout, defaultDiscoveryTimeout))
	f := &discovery{done: make(chan struct{}), cancel: cancel}
	d.flights[issuer] = f
	go d.run(fctx, issuer, f)
	return f
}

// run fetches for f and publishes the result; a failure, or any result
// with caching disabled, is removed from the cache at once.
func (d *Discoverer) run(ctx context.Context, issuer string, f *discovery) {
	defer f.cancel()
	meta, err := d.discover(ctx, issuer)
	ttl := orDefault(d.TTL, defaultDiscoveryTTL)
	if d.TTL < 0 {
		ttl = 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f.meta, f.err, f.expires = meta, err, d.now().Add(ttl)
	if (err != nil || ttl == 0) && d.flights[issuer] == f {
		delete(d.flights, issuer)
	}
	close(f.done)
}
