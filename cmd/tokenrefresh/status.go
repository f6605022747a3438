package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

const statusLong = `Shows, as 'gh auth status' does, the profile, how it logs in (the flow) and
its issuer, the user and server, the token store, when the access and
refresh tokens expire (relative times: "in 13m", "expired 2h ago") and what
the next command will do with the session: use the access token, refresh
it, or log in again. It reads the stored session only: no network, and
never a token.

"Flow" is password, browser, device, client-credentials, or refresh-token
(a session started from a refresh token on stdin, which cannot log in again
by itself); "Issuer" is the server the endpoints were discovered from.

"Session" is one of: active, refresh due (the next command refreshes the
access token, or for client credentials asks for a new one), login needed
(the refresh token is gone, expired, rejected by the server, or was sent in
a refresh that was interrupted before its answer was saved, so it may be
spent), or not logged in. When the server's clock differs from this
machine's by 2 seconds or more (measured from the Date header of its last
answer), the difference is shown.

--json prints the same as JSON with absolute times (RFC 3339, UTC); its
fields are only ever added to, never renamed or removed.
`

type statusOptions struct {
	*globalOptions
	env  *env
	json bool
}

func newStatusCmd(e *env, g *globalOptions, runF func(context.Context, *statusOptions) error) *cobra.Command {
	o := &statusOptions{globalOptions: g, env: e}
	c := &cobra.Command{
		Use:                   "status [--json]",
		DisableFlagsInUseLine: true,
		Short:                 "show the profile, store, token expiry and next step (never a token)",
		Long:                  statusLong,
		Args:                  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return o.run(c.Context())
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print JSON instead of text")
	return c
}

// statusReport is the --json output. It has no field that could hold a
// token.
type statusReport struct {
	Profile  string `json:"profile"`
	Mode     string `json:"mode"`
	Flow     string `json:"flow"`
	Username string `json:"username"`
	Server   string `json:"server"`
	// Issuer is the authorization server the endpoints were discovered
	// from, when they were.
	Issuer          string     `json:"issuer,omitempty"`
	Store           string     `json:"store"`
	StoreURL        string     `json:"store_url,omitempty"` // postgres, redis: never with a password
	Session         string     `json:"session"`
	AccessExpiry    *time.Time `json:"access_expiry,omitempty"`
	RefreshExpiry   *time.Time `json:"refresh_expiry,omitempty"`
	HasRefreshToken bool       `json:"has_refresh_token"`
	// Reason says why a login is needed, when it is.
	Reason string `json:"reason,omitempty"`
	// ClockSkewSeconds is the server's clock minus ours, when measured.
	ClockSkewSeconds int64 `json:"clock_skew_seconds,omitempty"`
	// Next is what the next command does with the session: "use" the
	// access token, "refresh" it, or "login" again.
	Next string `json:"next"`
	// host is the server's host[:port], for the text form.
	host string
}

// What the next command does with the session (statusReport.Next).
const (
	nextUse     = "use"
	nextRefresh = "refresh"
	nextLogin   = "login"
)

func (o *statusOptions) run(ctx context.Context) error {
	e := o.env
	s, err := e.openProfile(ctx, *o.globalOptions)
	if err != nil {
		return err
	}
	tok, err := storedToken(ctx, s)
	if err != nil {
		return err
	}
	r := newStatusReport(s, tok, e.now())
	if o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.writeText(e.stdout, e.now())
}

// storedToken reads the session from the store; nil when there is none.
func storedToken(ctx context.Context, s *session) (*tokensource.Token, error) {
	data, err := s.store.Get(ctx, s.prof.Key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	tok, err := tokensource.DecodeToken(data)
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	return tok, nil
}

func newStatusReport(s *session, tok *tokensource.Token, now time.Time) *statusReport {
	r := &statusReport{
		Profile:  s.name,
		Mode:     s.prof.Mode,
		Flow:     s.prof.flow(),
		Username: s.prof.Username,
		Server:   s.prof.TokenURL,
		Issuer:   s.prof.Issuer,
		Store:    s.backend,
		StoreURL: s.prof.StoreURL,
		Session:  "not logged in",
		Next:     nextLogin,
		host:     s.prof.host(),
	}
	if s.prof.Mode == modeJSON {
		r.Server = s.prof.LoginURL
	}
	if tok == nil {
		return r
	}
	r.HasRefreshToken = tok.RefreshToken != ""
	r.AccessExpiry = utcPtr(tok.Expiry)
	r.RefreshExpiry = utcPtr(tok.RefreshExpiry)
	r.ClockSkewSeconds = int64(tok.ClockSkew / time.Second)
	_, pending := tok.RefreshPending()
	switch {
	case tok.RefreshRejected():
		r.Session, r.Reason = "login needed", "the server rejected the refresh token"
	case tok.AccessToken != "" && !tok.ExpiredAt(now):
		r.Session, r.Next = "active", nextUse
	case pending:
		r.Session, r.Reason = "login needed", "a refresh was interrupted before its answer was saved; the refresh token may be spent"
	case r.Flow == flowClientCredentials:
		// No refresh token: the next command asks for a new token.
		r.Session = "refresh due"
	case !tok.RefreshExpiredAt(now):
		r.Session, r.Next = "refresh due", nextRefresh
	default:
		r.Session, r.Reason = "login needed", "the refresh token is missing or expired"
	}
	return r
}

func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

// writeText writes the human form:
//
//	Profile default (json mode)
//	  ✓ Logged in to auth.example.com as alice
//	  - Server:         https://auth.example.com/auth/login
//	  - Store:          file
//	  - Session:        active
//	  - Access token:   expires in 14m
//	  - Refresh token:  expires in 11h
//	  - Next command:   uses the access token
func (r *statusReport) writeText(w io.Writer, now time.Time) error {
	fmt.Fprintf(w, "Profile %s (%s mode)\n", r.Profile, r.Mode)
	as, forUser := "", ""
	if r.Username != "" {
		as, forUser = " as "+r.Username, " for "+r.Username
	}
	switch r.Session {
	case "active", "refresh due":
		fmt.Fprintf(w, "  ✓ Logged in to %s%s\n", r.host, as)
	case "login needed":
		fmt.Fprintf(w, "  X Login needed at %s%s: %s\n", r.host, forUser, r.Reason)
	default:
		fmt.Fprintf(w, "  X Not logged in to %s%s\n", r.host, as)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  - Flow:\t%s\n", r.Flow)
	if r.Issuer != "" {
		fmt.Fprintf(tw, "  - Issuer:\t%s\n", r.Issuer)
	}
	fmt.Fprintf(tw, "  - Server:\t%s\n", r.Server)
	if r.StoreURL != "" {
		fmt.Fprintf(tw, "  - Store:\t%s at %s\n", r.Store, r.StoreURL)
	} else {
		fmt.Fprintf(tw, "  - Store:\t%s\n", r.Store)
	}
	fmt.Fprintf(tw, "  - Session:\t%s\n", r.Session)
	if r.Session != "not logged in" {
		fmt.Fprintf(tw, "  - Access token:\t%s\n", describeExpiry(r.AccessExpiry, now, "used until the server rejects it"))
		refresh := "none"
		if r.HasRefreshToken {
			refresh = describeExpiry(r.RefreshExpiry, now, "no expiry given")
		}
		fmt.Fprintf(tw, "  - Refresh token:\t%s\n", refresh)
	}
	if skew := time.Duration(r.ClockSkewSeconds) * time.Second; skew >= 2*time.Second || skew <= -2*time.Second {
		way := "ahead of"
		if skew < 0 {
			way, skew = "behind", -skew
		}
		fmt.Fprintf(tw, "  - Server clock:\t%s %s this machine's\n", skew, way)
	}
	fmt.Fprintf(tw, "  - Next command:\t%s\n", describeNext(r.Next, r.Flow))
	return tw.Flush()
}

func describeNext(next, flow string) string {
	switch next {
	case nextUse:
		return "uses the access token"
	case nextRefresh:
		return "refreshes the access token with the refresh token"
	}
	switch flow {
	case flowBrowser, flowDevice:
		return "runs " + describeFlow(flow) + " in the foreground on a terminal; else run `tokenrefresh login`"
	case flowClientCredentials:
		return "asks for a new token with the client credentials"
	case flowRefreshToken:
		return "cannot log in: start a new session with `tokenrefresh login --refresh-token-stdin`"
	}
	return "logs in again with TOKENREFRESH_PASSWORD or a password prompt on a terminal; else run `tokenrefresh login`"
}

// describeExpiry renders an expiry relative to now: "expires in 13m",
// "expired 2h ago"; none when t is nil.
func describeExpiry(t *time.Time, now time.Time, none string) string {
	if t == nil {
		return none
	}
	d := t.Sub(now)
	if d <= 0 {
		return fmt.Sprintf("expired %s ago", roughDuration(-d))
	}
	return fmt.Sprintf("expires in %s", roughDuration(d))
}

// roughDuration renders d as people read it, in its largest unit or two,
// rounded down: 45s, 13m, 2h, 2h30m, 3d, 3d4h.
func roughDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d < day:
		if m := d % time.Hour / time.Minute; m != 0 && d < 10*time.Hour {
			return fmt.Sprintf("%dh%dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	if h := d % day / time.Hour; h != 0 && d < 10*day {
		return fmt.Sprintf("%dd%dh", d/day, h)
	}
	return fmt.Sprintf("%dd", d/day)
}
