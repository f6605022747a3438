package authtest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// Options, Server and Fault print only what is not a credential (no
// password, no client secret, no header value) under every fmt verb, slog
// and encoding/json, like the rest of the module: passwords given in
// Options.Users may be real ones, and a Fault's headers may carry anything.

// String describes o without passwords or the client secret.
func (o Options) String() string {
	f := []string{
		"Addr=" + o.Addr,
		"AccessTTL=" + o.AccessTTL.String(),
		"RefreshTTL=" + o.RefreshTTL.String(),
		"ClientID=" + o.ClientID,
		"ReuseGrace=" + o.ReuseGrace.String(),
		"DisableRotation=" + strconv.FormatBool(o.DisableRotation),
		fmt.Sprintf("JSONStyle=%d ExpiresIn=%d Challenge=%d", o.JSONStyle, o.ExpiresIn, o.Challenge),
	}
	if o.Users != nil {
		f = append(f, fmt.Sprintf("Users=%d users", len(o.Users)))
	}
	if o.ClientSecret != "" {
		f = append(f, "ClientSecret=<redacted>")
	}
	return "authtest.Options{" + strings.Join(f, " ") + "}"
}

// GoString implements [fmt.GoStringer]: String.
func (o Options) GoString() string { return o.String() }

// Format implements [fmt.Formatter]: every verb prints String.
func (o Options) Format(f fmt.State, _ rune) { fmt.Fprint(f, o.String()) }

// LogValue implements [slog.LogValuer]: String.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// MarshalJSON encodes String.
func (o Options) MarshalJSON() ([]byte, error) { return json.Marshal(o.String()) }

// String describes s by its URL, user and client id, never its password,
// client secret or tokens.
func (s *Server) String() string {
	if s == nil {
		return "authtest.Server(nil)"
	}
	return "authtest.Server{URL=" + s.URL + " User=" + s.User + " ClientID=" + s.ClientID + "}"
}

// GoString implements [fmt.GoStringer]: String.
func (s *Server) GoString() string { return s.String() }

// Format implements [fmt.Formatter]: every verb prints String.
func (s *Server) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue implements [slog.LogValuer]: String.
func (s *Server) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes String.
func (s *Server) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// String describes f by its status, header names and body length.
func (f Fault) String() string {
	names := make([]string, 0, len(f.Header))
	for k := range f.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	return fmt.Sprintf("authtest.Fault{Status=%d Header=[%s] Body=%d bytes}", f.Status, strings.Join(names, " "), len(f.Body))
}

// GoString implements [fmt.GoStringer]: String.
func (f Fault) GoString() string { return f.String() }

// Format implements [fmt.Formatter]: every verb prints String.
func (f Fault) Format(st fmt.State, _ rune) { fmt.Fprint(st, f.String()) }

// LogValue implements [slog.LogValuer]: String.
func (f Fault) LogValue() slog.Value { return slog.StringValue(f.String()) }

// MarshalJSON encodes String.
func (f Fault) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }
