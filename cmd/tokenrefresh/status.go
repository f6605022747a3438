package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/tokensource"
)

const statusUsage = `Usage:
  tokenrefresh status [--json] [flags]

Shows the profile, the token store it uses, and when the access and refresh
tokens expire. It reads the stored session only: no network, and never a
token. "Session" is one of: active, refresh due (the next command refreshes
the access token), login needed (the refresh token is gone, expired,
rejected by the server, or was sent in a refresh that was interrupted before
its answer was saved, so it may be spent), or not logged in. When the
server's clock differs from this machine's by 2 seconds or more (measured
from the Date header of its last answer), the difference is shown.
`

type statusOptions struct {
	common
	json bool
	env  *env
}

func parseStatus(e *env, args []string) (func(context.Context) error, error) {
	o := &statusOptions{env: e}
	fs := newFlagSet("status")
	o.register(fs)
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
	if err := parseFlags(e, fs, statusUsage, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o.run, nil
}

// statusReport is the --json output. It has no field that could hold a
// token.
type statusReport struct {
	Profile         string     `json:"profile"`
	Mode            string     `json:"mode"`
	Username        string     `json:"username"`
	Server          string     `json:"server"`
	Store           string     `json:"store"`
	Session         string     `json:"session"`
	AccessExpiry    *time.Time `json:"access_expiry,omitempty"`
	RefreshExpiry   *time.Time `json:"refresh_expiry,omitempty"`
	HasRefreshToken bool       `json:"has_refresh_token"`
	// Reason says why a login is needed, when it is.
	Reason string `json:"reason,omitempty"`
	// ClockSkewSeconds is the server's clock minus ours, when measured.
	ClockSkewSeconds int64 `json:"clock_skew_seconds,omitempty"`
}

func (o *statusOptions) run(ctx context.Context) error {
	e := o.env
	s, err := e.openProfile(ctx, o.common)
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
		Username: s.prof.Username,
		Server:   s.prof.TokenURL,
		Store:    s.backend,
		Session:  "not logged in",
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
		r.Session = "active"
	case pending:
		r.Session, r.Reason = "login needed", "a refresh was interrupted before its answer was saved; the refresh token may be spent"
	case !tok.RefreshExpiredAt(now):
		r.Session = "refresh due"
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

func (r *statusReport) writeText(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Profile:\t%s\n", r.Profile)
	fmt.Fprintf(tw, "Mode:\t%s\n", r.Mode)
	fmt.Fprintf(tw, "User:\t%s\n", r.Username)
	fmt.Fprintf(tw, "Server:\t%s\n", r.Server)
	fmt.Fprintf(tw, "Store:\t%s\n", r.Store)
	if r.Reason != "" {
		fmt.Fprintf(tw, "Session:\t%s (%s)\n", r.Session, r.Reason)
	} else {
		fmt.Fprintf(tw, "Session:\t%s\n", r.Session)
	}
	if r.Session != "not logged in" {
		fmt.Fprintf(tw, "Access token:\t%s\n", describeExpiry(r.AccessExpiry, now))
		refresh := "none"
		if r.HasRefreshToken {
			refresh = describeExpiry(r.RefreshExpiry, now)
		}
		fmt.Fprintf(tw, "Refresh token:\t%s\n", refresh)
	}
	if skew := time.Duration(r.ClockSkewSeconds) * time.Second; skew >= 2*time.Second || skew <= -2*time.Second {
		way := "ahead of"
		if skew < 0 {
			way, skew = "behind", -skew
		}
		fmt.Fprintf(tw, "Server clock:\t%s %s this machine's\n", skew, way)
	}
	return tw.Flush()
}

// describeExpiry renders an expiry such as
// "expires 2026-01-02T15:04:05Z (in 14m59s)".
func describeExpiry(t *time.Time, now time.Time) string {
	if t == nil {
		return "no expiry given"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return fmt.Sprintf("expired %s (%s ago)", t.Format(time.RFC3339), -d)
	}
	return fmt.Sprintf("expires %s (in %s)", t.Format(time.RFC3339), d)
}
