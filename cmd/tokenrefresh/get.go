package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/tokenrefresh/tokenrefresh/transport"
)

const getLong = `Fetches each URL with GET through the refreshing transport of the saved
profile and writes the bodies, in argument order, to stdout (or -o FILE).
An expired access token is refreshed first; a 401 makes the transport renew
the token (rotating the refresh token, saved before use) and retry once; a
dead refresh token leads to a new login with TOKENREFRESH_PASSWORD or, on a
terminal, a password prompt (asked once for all URLs). Many URLs are
fetched concurrently (--parallel) through one token source, so they share
one refresh; each body is held in memory until its turn to be written.
Other tokenrefresh processes on the same profile share the stored session
safely.

The token is sent only to the profile's API origins (see 'login --api-url';
default: the origin of the login or token URL). Another origin is refused
(exit 2) unless --allow-host HOST or HOST:PORT names it for this call.

--timeout (or TOKENREFRESH_TIMEOUT) bounds the whole call, any refresh or
re-login included; by default there is none, as with curl. A download to a
file (-o) shows a progress bar on stderr when stderr is a terminal (bytes,
total and percent when the server sends Content-Length, rate and time
left), cleared at the end; never in a pipe or with --quiet.

Exit status: 0 when every response is 2xx or 3xx; 4 when any response has
status >= 400 (the body is still written); 3 when re-login is needed and no
password is available non-interactively (set TOKENREFRESH_PASSWORD or run
'tokenrefresh login'); 1 on other errors (a timeout too); 2 on usage
errors; 130 on Ctrl-C, 143 on SIGTERM.
`

type getOptions struct {
	*globalOptions
	env      *env
	output   string
	include  bool
	quiet    bool
	parallel int
	allow    []string
	timeout  timeoutOption
	urls     []string
	// progress is the download's progress bar, when one is shown.
	progress *download
}

func newGetCmd(e *env, g *globalOptions, runF func(context.Context, *getOptions) error) *cobra.Command {
	o := &getOptions{globalOptions: g, env: e}
	c := &cobra.Command{
		Use:   "get [flags] URL...",
		Short: "fetch URLs through the refreshing transport",
		Long:  getLong,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("at least one URL is required")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.urls = args
			if err := o.validate(c); err != nil {
				return err
			}
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVarP(&o.output, "output", "o", "", "write bodies to `file` instead of stdout")
	f.BoolVarP(&o.include, "include", "i", false, "include the status line and response headers")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "show no progress bar")
	f.IntVar(&o.parallel, "parallel", 4, "fetch at most `n` URLs at once")
	f.StringArrayVar(&o.allow, "allow-host", nil, "also send the token to `host` or host:port for this call (repeatable)")
	o.timeout.register(c)
	_ = c.MarkFlagFilename("output")
	return c
}

func (o *getOptions) validate(c *cobra.Command) error {
	if o.parallel < 1 {
		return usageErr("--parallel must be at least 1, not %d", o.parallel)
	}
	for _, u := range o.urls {
		if err := checkURL(u); err != nil {
			return usageErr("%v", err)
		}
	}
	return o.timeout.resolve(c, o.env)
}

// httpStatusError reports a response with status >= 400 (exit code 4).
type httpStatusError struct {
	url    string
	status string
}

func (e *httpStatusError) Error() string { return fmt.Sprintf("GET %s: %s", e.url, e.status) }

func (o *getOptions) run(ctx context.Context) error {
	return o.timeout.run(ctx, func(ctx context.Context) error {
		return o.env.withSession(ctx, *o.globalOptions, o.getAll)
	})
}

func (o *getOptions) getAll(ctx context.Context, s *session) (err error) {
	e := o.env
	for _, u := range o.urls {
		if err := checkTarget(s.prof, s.name, u, o.allow); err != nil {
			return err
		}
	}
	// A token first, so that a re-login that needs the terminal happens
	// here, before any fetch or progress line starts.
	if _, err := e.token(ctx, s); err != nil {
		return err
	}
	client := &http.Client{Transport: &transport.Transport{Source: s.src, Logger: s.src.Logger}}

	var out io.Writer = e.stdout
	var file *os.File
	if o.output != "" {
		if file, err = os.Create(o.output); err != nil {
			return err
		}
		out = file
		if e.isTerminal(e.stderr) && !o.quiet {
			o.progress = newDownload(e.stderr, len(o.urls) == 1, e.prompting.Load)
			defer o.progress.finish()
		}
	}
	if len(o.urls) == 1 {
		// A session revoked on the server shows only now, as a 401 the
		// transport could not renew: log in again and fetch once more.
		// Nothing was written for the failed fetch.
		err = e.retryAfterLogin(ctx, s, func() error { return o.fetch(ctx, client, o.urls[0], out) })
	} else {
		err = o.fetchAll(ctx, s, client, out)
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// fetchAll fetches every URL with at most o.parallel at once and writes the
// bodies in argument order as each one's turn comes. A fetch that failed
// because the session needs a new login is done again here, in the
// command's flow, after relogin: the password is asked at most once.
func (o *getOptions) fetchAll(ctx context.Context, s *session, client *http.Client, out io.Writer) error {
	type result struct {
		body bytes.Buffer
		err  error
		done chan struct{}
	}
	results := make([]*result, len(o.urls))
	for i := range results {
		results[i] = &result{done: make(chan struct{})}
	}
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	for i, u := range o.urls {
		wg.Go(func() {
			r := results[i]
			defer close(r.done)
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				r.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			r.err = o.fetch(ctx, client, u, &r.body)
		})
	}
	defer wg.Wait()
	failed, code := 0, exitOK
	for i, r := range results {
		<-r.done
		retry, fatal := o.env.relogin(ctx, s, r.err)
		if fatal != nil {
			return fatal
		}
		if retry {
			r.body.Reset()
			r.err = o.fetch(ctx, client, o.urls[i], &r.body)
		}
		if _, err := out.Write(r.body.Bytes()); err != nil {
			return err
		}
		if r.err != nil {
			failed++
			code = max(code, severity(r.err))
			fmt.Fprintf(o.env.stderr, "tokenrefresh get: %s\n", oneLine(r.err.Error()))
		}
	}
	if failed == 0 {
		return nil
	}
	return &codedError{code: fromSeverity(code), err: fmt.Errorf("%d of %d requests failed", failed, len(o.urls))}
}

// severity orders exit codes for several failures: re-login needed beats
// other errors, which beat HTTP error statuses.
func severity(err error) int {
	switch exitCode(err) {
	case exitReauth:
		return 3
	case exitHTTPErr:
		return 1
	}
	return 2
}

func fromSeverity(s int) int {
	return [...]int{exitOK, exitHTTPErr, exitError, exitReauth}[s]
}

// fetch GETs rawURL and writes the body (after the head with -i) to out.
func (o *getOptions) fetch(ctx context.Context, client *http.Client, rawURL string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if o.progress != nil {
		o.progress.response(resp.ContentLength)
		body = io.TeeReader(resp.Body, o.progress)
	}
	if o.include {
		fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
		if err := resp.Header.Write(out); err != nil {
			return err
		}
		fmt.Fprint(out, "\r\n")
	}
	if _, err := io.Copy(out, body); err != nil {
		return fmt.Errorf("GET %s: reading body: %w", redactURL(req.URL), err)
	}
	if resp.StatusCode >= 400 {
		return &httpStatusError{url: redactURL(req.URL), status: resp.Status}
	}
	return nil
}

// redactURL hides a password in the URL's user info.
func redactURL(u *url.URL) string { return u.Redacted() }
