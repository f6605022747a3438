package tokensource

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// Configuration types that hold secrets (passwords, client secrets, API
// keys in headers, and a Source through its Grant) print only their
// non-secret fields, under every fmt verb, slog and encoding/json, as Token
// does. A secret field shows as "<redacted>" when set.

// field is one printed field of a redacted view.
type field struct{ name, value string }

// view is the printable, secret-free form of a configuration value.
type view struct {
	typ    string
	fields []field
}

func (v view) String() string {
	var b strings.Builder
	b.WriteString(v.typ)
	b.WriteString("{")
	for i, f := range v.fields {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(f.name)
		b.WriteString("=")
		b.WriteString(f.value)
	}
	b.WriteString("}")
	return b.String()
}

func (v view) format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, "tokensource."+v.String())
		return
	}
	fmt.Fprint(f, v.String())
}

func (v view) logValue() slog.Value {
	attrs := make([]slog.Attr, len(v.fields))
	for i, f := range v.fields {
		attrs[i] = slog.String(f.name, f.value)
	}
	return slog.GroupValue(attrs...)
}

func (v view) marshalJSON() ([]byte, error) {
	m := make(map[string]string, len(v.fields))
	for _, f := range v.fields {
		m[f.name] = f.value
	}
	return json.Marshal(m)
}

// keys appends the sorted names of m, whose values may be secrets (header
// values, extra form parameters), when m is not empty.
func (v *view) keys(name string, m map[string][]string) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > 0 {
		v.add(name, strings.Join(names, ",")+" (values redacted)")
	}
}

// add appends a non-secret field when it is set.
func (v *view) add(name, value string) {
	if value != "" {
		v.fields = append(v.fields, field{name, value})
	}
}

// secret appends a secret field as "<redacted>" when it is set.
func (v *view) secret(name string, set bool) {
	if set {
		v.fields = append(v.fields, field{name, "<redacted>"})
	}
}

func (g PasswordGrant) view() view {
	v := view{typ: "PasswordGrant"}
	v.add("token_url", g.TokenURL)
	v.add("revoke_url", g.RevokeURL)
	v.add("client_id", g.ClientID)
	v.secret("client_secret", g.ClientSecret != "")
	v.add("username", g.Username)
	v.secret("password", g.Password != "")
	v.add("scopes", strings.Join(g.Scopes, " "))
	return v
}

// String describes g without its password and client secret.
func (g PasswordGrant) String() string { return g.view().String() }

// GoString implements [fmt.GoStringer] so that %#v redacts too.
func (g PasswordGrant) GoString() string { return "tokensource." + g.String() }

// Format implements [fmt.Formatter]: every verb prints the redacted form.
func (g PasswordGrant) Format(f fmt.State, verb rune) { g.view().format(f, verb) }

// LogValue implements [slog.LogValuer]: only non-secret fields are logged.
func (g PasswordGrant) LogValue() slog.Value { return g.view().logValue() }

// MarshalJSON encodes the non-secret fields only.
func (g PasswordGrant) MarshalJSON() ([]byte, error) { return g.view().marshalJSON() }

func (g *JSONGrant) view() view {
	v := view{typ: "JSONGrant"}
	if g == nil {
		return v
	}
	v.add("login_url", g.LoginURL)
	v.add("refresh_url", g.RefreshURL)
	v.add("logout_url", g.LogoutURL)
	v.add("username", g.Username)
	v.secret("password", g.Password != "")
	v.keys("header", g.Header)
	return v
}

// String describes g without its password or header values.
func (g *JSONGrant) String() string { return g.view().String() }

// GoString implements [fmt.GoStringer] so that %#v redacts too.
func (g *JSONGrant) GoString() string { return "tokensource." + g.String() }

// Format implements [fmt.Formatter]: every verb prints the redacted form.
func (g *JSONGrant) Format(f fmt.State, verb rune) { g.view().format(f, verb) }

// LogValue implements [slog.LogValuer]: only non-secret fields are logged.
func (g *JSONGrant) LogValue() slog.Value { return g.view().logValue() }

// MarshalJSON encodes the non-secret fields only.
func (g *JSONGrant) MarshalJSON() ([]byte, error) { return g.view().marshalJSON() }

func (s *Source) view() view {
	v := view{typ: "Source"}
	if s == nil {
		return v
	}
	if s.Grant != nil {
		v.add("grant", fmt.Sprintf("%T", s.Grant))
		if id := s.identity(); id != "" {
			v.add("identity", id)
		}
	}
	if s.Store != nil {
		v.add("store", fmt.Sprintf("%T", s.Store))
	}
	v.add("key", s.Key)
	return v
}

// String describes s by its Grant's type and identity, its Store's type
// and Key: never a token or a credential.
func (s *Source) String() string { return s.view().String() }

// GoString implements [fmt.GoStringer] so that %#v redacts too.
func (s *Source) GoString() string { return "tokensource." + s.String() }

// Format implements [fmt.Formatter]: every verb prints the redacted form.
func (s *Source) Format(f fmt.State, verb rune) { s.view().format(f, verb) }

// LogValue implements [slog.LogValuer].
func (s *Source) LogValue() slog.Value { return s.view().logValue() }

// MarshalJSON encodes the description of String.
func (s *Source) MarshalJSON() ([]byte, error) { return s.view().marshalJSON() }
