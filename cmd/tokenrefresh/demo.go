package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
	"github.com/tokenrefresh/tokenrefresh/transport"
)

const demoLong = `Starts the demo server on a free loopback port with short token lifetimes
and runs a client through it, printing a timeline:
  1. sequential calls across several access-token expiries (each refresh
     rotates the refresh token);
  2. the server revokes every access token: the next call gets a 401, which
     the transport intercepts, renews and retries;
  3. a burst of concurrent calls on an expired token: one refresh serves all;
  4. an idle pause past the refresh token's expiry: the client logs in again.
Then a summary from the client's and the server's counters. With the
default lifetimes it takes about 16 seconds. Exit status 0 means every
request succeeded.
`

type demoOptions struct {
	accessTTL  time.Duration
	refreshTTL time.Duration
	burst      int
	env        *env
}

func newDemoCmd(e *env, runF func(context.Context, *demoOptions) error) *cobra.Command {
	o := &demoOptions{env: e}
	c := &cobra.Command{
		Use:                   "demo [--access-ttl 2s] [--refresh-ttl 7s] [--burst 20]",
		DisableFlagsInUseLine: true,
		Short:                 "watch refresh, rotation and re-login against a built-in server",
		Long:                  demoLong,
		Annotations:           map[string]string{noProfile: "true"},
		Args:                  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.run(c.Context())
		},
	}
	f := c.Flags()
	f.DurationVar(&o.accessTTL, "access-ttl", 2*time.Second, "access token `lifetime`")
	f.DurationVar(&o.refreshTTL, "refresh-ttl", 7*time.Second, "refresh token `lifetime`")
	f.IntVar(&o.burst, "burst", 20, "`number` of concurrent requests in the burst")
	return c
}

func (o *demoOptions) validate() error {
	switch {
	case o.accessTTL < time.Second || o.accessTTL%time.Second != 0 || o.refreshTTL%time.Second != 0:
		// Token endpoints speak expires_in in whole seconds.
		return usageErr("--access-ttl and --refresh-ttl must be whole seconds, at least 1s")
	case o.refreshTTL < 2*o.accessTTL:
		return usageErr("--refresh-ttl must be at least twice --access-ttl")
	case o.burst < 1 || o.burst > 1000:
		return usageErr("--burst must be between 1 and 1000")
	}
	return nil
}

// demo holds the client side of a demo run: the timeline and counters.
type demo struct {
	opts   *demoOptions
	base   string
	client *http.Client
	tl     *timeline

	requests, successes     atomic.Int64
	logins, refreshes, e401 atomic.Int64
}

func (o *demoOptions) run(ctx context.Context) (err error) {
	srv, err := authtest.New(authtest.Options{AccessTTL: o.accessTTL, RefreshTTL: o.refreshTTL, Now: o.env.now})
	if err != nil {
		return err
	}
	defer srv.Close()
	// A real file store, so "saved before use" means written to disk.
	dir, err := os.MkdirTemp("", "tokenrefresh-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := file.New(dir)
	if err != nil {
		return err
	}
	d := &demo{opts: o, base: srv.URL, tl: newTimeline(o.env.stdout, o.env.now)}
	src := &tokensource.Source{
		Grant: &tokensource.JSONGrant{
			LoginURL:   srv.LoginURL(),
			RefreshURL: srv.RefreshURL(),
			LogoutURL:  srv.LogoutURL(),
			Username:   srv.User,
			// The demo user's published password, as a prompt would give it.
			PasswordFunc: func(context.Context) (string, error) { return srv.Password, nil },
			Now:          o.env.now,
		},
		Store:   store,
		Key:     "demo",
		Now:     o.env.now,
		OnEvent: d.event,
	}
	d.client = &http.Client{Transport: &transport.Transport{Source: src, OnEvent: d.event}}
	fmt.Fprintf(o.env.stdout, "Demo server at %s (access tokens live %s, refresh tokens %s)\n"+
		"Client session stored in a temporary file store\n", srv.URL, o.accessTTL, o.refreshTTL)
	if err := d.script(ctx, srv, src); err != nil {
		return err
	}
	logoutCtx, cancel := context.WithTimeout(ctx, o.env.revokeTimeout)
	defer cancel()
	if err := src.Logout(logoutCtx); err != nil {
		return err
	}
	d.tl.printf("logout: session revoked on the server")
	return d.summary(srv.Counters())
}

// script runs the four phases described in demoLong.
func (d *demo) script(ctx context.Context, srv *authtest.Server, src *tokensource.Source) error {
	ttl := d.opts.accessTTL
	d.tl.header("1. sequential calls across access-token expiries")
	paths := []string{"/api/profile", "/api/items", "/api/items/1", "/api/items/2", "/api/items/3"}
	for i := range 8 {
		if i > 0 {
			// 0.45 of a lifetime: some calls land in the early-refresh
			// margin (background refresh), others after expiry.
			if err := d.opts.env.sleep(ctx, ttl*45/100); err != nil {
				return err
			}
		}
		d.call(ctx, paths[i%len(paths)], true)
	}

	d.tl.header("2. the server revokes every access token (say, a signing key rotated)")
	// Let a background refresh of phase 1 finish first (Close waits for
	// it; the source stays usable), so the revocation surely hits the
	// token the next call sends.
	if err := src.Close(ctx); err != nil {
		return err
	}
	srv.RevokeAccessTokens()
	d.call(ctx, "/api/profile", true)

	d.tl.header(fmt.Sprintf("3. %d concurrent calls once the access token has expired", d.opts.burst))
	if err := d.opts.env.sleep(ctx, ttl+ttl/10); err != nil {
		return err
	}
	before, ok := d.refreshes.Load(), d.successes.Load()
	var wg sync.WaitGroup
	for i := range d.opts.burst {
		wg.Go(func() { d.call(ctx, fmt.Sprintf("/api/items/%d", i%3+1), false) })
	}
	wg.Wait()
	d.tl.printf("burst done: %d of %d succeeded, %d refresh(es) for all of them",
		d.successes.Load()-ok, d.opts.burst, d.refreshes.Load()-before)

	idle := d.opts.refreshTTL + d.opts.refreshTTL/10
	d.tl.header(fmt.Sprintf("4. idle for %s, past the refresh token's expiry", idle.Round(10*time.Millisecond)))
	if err := d.opts.env.sleep(ctx, idle); err != nil {
		return err
	}
	d.call(ctx, "/api/profile", true)
	return ctx.Err()
}

// call GETs path and records the outcome; verbose prints a line for it.
func (d *demo) call(ctx context.Context, path string, verbose bool) {
	d.requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		d.tl.printf("GET %s: %v", path, err)
		return
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.tl.printf("GET %s failed: %s", path, oneLine(err.Error()))
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		d.successes.Add(1)
	}
	if verbose || resp.StatusCode/100 != 2 {
		d.tl.printf("GET %s → %s", path, resp.Status)
	}
}

// event prints a token-source or transport event on the timeline.
func (d *demo) event(e tokensource.Event) {
	switch e.Kind {
	case tokensource.EventLoginFinished:
		if d.logins.Add(1) == 1 {
			d.tl.printf("login ok in %s: new session", ms(e.Duration))
		} else {
			d.tl.printf("re-login ok in %s: the refresh token was dead, so the stored credentials were used", ms(e.Duration))
		}
	case tokensource.EventLoginFailed:
		d.tl.printf("login failed: %s", oneLine(e.Err.Error()))
	case tokensource.EventRefreshStarted:
		d.tl.printf("refresh started: %s", describeTrigger(e.Trigger))
	case tokensource.EventRefreshFinished:
		d.refreshes.Add(1)
		rot := ""
		if e.Rotated {
			rot = ", rotated: new refresh token saved to disk before use, old one spent"
		}
		d.tl.printf("refresh ok in %s%s", ms(e.Duration), rot)
	case tokensource.EventRefreshFailed:
		d.tl.printf("refresh failed (%s): %s", describeTrigger(e.Trigger), oneLine(e.Err.Error()))
	case tokensource.EventRequestUnauthorized:
		d.e401.Add(1)
		d.tl.printf("401 intercepted → renew the token, then retry")
	case tokensource.EventRequestStaleRetry:
		d.tl.printf("401 for a token already replaced → retry with the current one")
	case tokensource.EventTokenAdopted:
		d.tl.printf("adopted a newer token from the store")
	case tokensource.EventSaveFailed:
		d.tl.printf("saving the token failed: %s", oneLine(e.Err.Error()))
	}
}

func describeTrigger(t tokensource.Trigger) string {
	switch t {
	case tokensource.TriggerStartup:
		return "no token yet"
	case tokensource.TriggerEarly:
		return "access token about to expire, in the background"
	case tokensource.TriggerExpired:
		return "access token expired"
	case tokensource.TriggerRenew:
		return "server rejected the token"
	}
	return string(t)
}

func ms(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}

// summary prints the counters and fails unless every request succeeded.
func (d *demo) summary(st authtest.Counters) error {
	w := d.opts.env.stdout
	req, ok := d.requests.Load(), d.successes.Load()
	fmt.Fprintf(w, "\nSummary after %s\n", d.tl.elapsed().Round(10*time.Millisecond))
	fmt.Fprintf(w, "  client: %d requests, %d succeeded, %d failed; %d logins, %d refreshes, %d 401s intercepted\n",
		req, ok, req-ok, d.logins.Load(), d.refreshes.Load(), d.e401.Load())
	fmt.Fprintf(w, "  server: %d logins, %d refreshes, %d 401 answers, %d refresh-token reuses detected, %d revocations\n",
		st.Logins, st.Refreshes, st.Unauthorized, st.Reuses, st.Revocations)
	if ok != req {
		return fmt.Errorf("%d of %d demo requests failed", req-ok, req)
	}
	if st.Reuses != 0 {
		return fmt.Errorf("the server saw a refresh token reused %d times", st.Reuses)
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// timeline prints lines stamped with the time since it started. It is safe
// for concurrent use.
type timeline struct {
	now   func() time.Time
	start time.Time
	// mu serializes writes to w.
	mu sync.Mutex
	w  io.Writer
}

func newTimeline(w io.Writer, now func() time.Time) *timeline {
	return &timeline{w: w, now: now, start: now()}
}

func (t *timeline) elapsed() time.Duration { return t.now().Sub(t.start) }

func (t *timeline) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%+8.2fs  %s\n", t.elapsed().Seconds(), fmt.Sprintf(format, args...))
}

func (t *timeline) header(title string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "\n%s\n", title)
}
