// Package secretsweep checks that no exported type of the module prints a
// secret. Its test lists every exported type of every public package from
// the source, generates a small program that hands their reflect.Types to
// [Check], and runs it, so a type added later is swept without editing the
// test.
//
// Check fills every field that can hold a secret (fields named like a
// password, secret, token or API key, byte slices, map values, and
// interface fields with each module type that implements them) with unique
// markers, then prints the value with every fmt verb, slog's text and JSON
// handlers, encoding/json and, for errors, Error, and reports each form in
// which a marker appears (as is, in hex or in base64).
package secretsweep

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unsafe"
)

// Named is an exported type to sweep.
type Named struct {
	Name string // package.Type
	Type reflect.Type
}

// Options tune the sweep.
type Options struct {
	// Module is the module path; only its types are allocated behind
	// pointer and interface fields.
	Module string
	// NotSecret names types whose secret-looking fields hold no secret
	// (for instance JSON field paths named AccessToken).
	NotSecret map[string]bool
}

// secretName matches field names that hold secrets; notSecretSuffix
// excludes names that only describe one (TokenURL, TokenType, ...).
var (
	secretName      = regexp.MustCompile(`(?i)(pass|secret|token|apikey|api_key|credential|bearer|assertion|cookie)`)
	notSecretSuffix = regexp.MustCompile(`(URL|Url|Type|Field|Func|Style|Path|Endpoint|Hint|Expiry|At)$`)
)

// Check sweeps every type and returns one line per leak, sorted.
func Check(types []Named, o Options) []string {
	s := &sweeper{opt: o, types: types}
	seen := map[string]bool{}
	var leaks []string
	for _, n := range types {
		for _, l := range s.check(n) {
			if !seen[l] {
				seen[l] = true
				leaks = append(leaks, l)
			}
		}
	}
	sort.Strings(leaks)
	return leaks
}

type sweeper struct {
	opt     Options
	types   []Named
	markers []string
	variant int
}

func (s *sweeper) check(n Named) []string {
	switch n.Type.Kind() {
	case reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return nil
	}
	var leaks []string
	for s.variant = 0; s.variant < max(1, s.candidates()); s.variant++ {
		s.markers = nil
		p := reflect.New(n.Type)
		s.fill(p.Elem(), "", 0, s.opt.NotSecret[n.Name])
		if len(s.markers) == 0 {
			return leaks
		}
		forms := map[string]any{"*" + n.Name: p.Interface()}
		if !hasLock(n.Type, 0) {
			forms[n.Name] = p.Elem().Interface()
		}
		for form, v := range forms {
			for how, out := range render(v) {
				if m := s.found(out); m != "" {
					leaks = append(leaks, fmt.Sprintf("%s under %s shows a secret (%s)", form, how, m))
				}
			}
		}
	}
	return leaks
}

// candidates is the most module types implementing one interface, so that
// every implementation is tried behind each interface field.
func (s *sweeper) candidates() int {
	n := 0
	for _, t := range s.types {
		if t.Type.Kind() == reflect.Interface {
			n = max(n, len(s.implementations(t.Type)))
		}
	}
	return n
}

func (s *sweeper) implementations(iface reflect.Type) []reflect.Type {
	var out []reflect.Type
	for _, t := range s.types {
		if t.Type.Kind() != reflect.Interface && reflect.PointerTo(t.Type).Implements(iface) {
			out = append(out, t.Type)
		}
	}
	return out
}

func (s *sweeper) marker() string {
	m := fmt.Sprintf("S3CRET%03dX", len(s.markers))
	s.markers = append(s.markers, m)
	return m
}

// found returns how a marker appears in out, or "".
func (s *sweeper) found(out string) string {
	for _, m := range s.markers {
		for how, enc := range map[string]string{
			"as is": m, "hex": hex.EncodeToString([]byte(m)), "HEX": strings.ToUpper(hex.EncodeToString([]byte(m))),
			"base64": base64.StdEncoding.EncodeToString([]byte(m))[:12],
		} {
			if strings.Contains(out, enc) {
				return how
			}
		}
	}
	return ""
}

// fill puts markers into every place of v that may hold a secret.
func (s *sweeper) fill(v reflect.Value, name string, depth int, exempt bool) {
	if depth > 4 {
		return
	}
	if !v.CanSet() {
		if !v.CanAddr() {
			return
		}
		v = reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	secret := !exempt && secretName.MatchString(name) && !notSecretSuffix.MatchString(name)
	switch v.Kind() {
	case reflect.String:
		if secret {
			v.SetString(s.marker())
		}
	case reflect.Slice:
		switch v.Type().Elem().Kind() {
		case reflect.Uint8:
			v.SetBytes([]byte(s.marker()))
		case reflect.String:
			if secret {
				v.Set(reflect.ValueOf([]string{s.marker()}).Convert(v.Type()))
			}
		}
	case reflect.Map:
		s.fillMap(v)
	case reflect.Struct:
		s.fillStruct(v, depth, exempt)
	case reflect.Pointer:
		if s.ours(v.Type().Elem()) && v.Type().Elem().Kind() == reflect.Struct {
			p := reflect.New(v.Type().Elem())
			s.fill(p.Elem(), name, depth+1, exempt)
			v.Set(p)
		}
	case reflect.Interface:
		if impls := s.implementations(v.Type()); len(impls) > 0 {
			t := impls[s.variant%len(impls)]
			p := reflect.New(t)
			s.fill(p.Elem(), name, depth+1, s.opt.NotSecret[typeName(t)])
			v.Set(p)
		}
	}
}

func (s *sweeper) fillStruct(v reflect.Value, depth int, exempt bool) {
	if !s.ours(v.Type()) {
		return // standard library internals (time, sync, atomic) hold no secret of ours
	}
	for i := range v.NumField() {
		s.fill(v.Field(i), v.Type().Field(i).Name, depth+1, exempt)
	}
}

func (s *sweeper) fillMap(v reflect.Value) {
	kt, et := v.Type().Key(), v.Type().Elem()
	if kt.Kind() != reflect.String {
		return
	}
	var val reflect.Value
	switch {
	case et.Kind() == reflect.String:
		val = reflect.ValueOf(s.marker()).Convert(et)
	case et.Kind() == reflect.Slice && (et.Elem().Kind() == reflect.String || et.Elem().Kind() == reflect.Uint8):
		if et.Elem().Kind() == reflect.String {
			val = reflect.ValueOf([]string{s.marker()}).Convert(et)
		} else {
			val = reflect.ValueOf([]byte(s.marker())).Convert(et)
		}
	default:
		return
	}
	m := reflect.MakeMap(v.Type())
	m.SetMapIndex(reflect.ValueOf("X-Api-Key").Convert(kt), val)
	v.Set(m)
}

func (s *sweeper) ours(t reflect.Type) bool {
	return strings.HasPrefix(t.PkgPath(), s.opt.Module)
}

func typeName(t reflect.Type) string {
	return t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:] + "." + t.Name()
}

// hasLock reports whether t holds a sync or sync/atomic value, which must
// not be copied (go vet's copylocks): such types are only printed through
// pointers.
func hasLock(t reflect.Type, depth int) bool {
	if depth > 4 {
		return false
	}
	switch t.Kind() {
	case reflect.Struct:
		if p := t.PkgPath(); p == "sync" || p == "sync/atomic" {
			return true
		}
		for i := range t.NumField() {
			if hasLock(t.Field(i).Type, depth+1) {
				return true
			}
		}
	case reflect.Array:
		return hasLock(t.Elem(), depth+1)
	}
	return false
}

// render prints v in every way a program might.
func render(v any) map[string]string {
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out[verb] = safe(func() string { return fmt.Sprintf(verb, v) })
	}
	out["slog text"] = safe(func() string {
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("m", "v", v)
		return b.String()
	})
	out["slog JSON"] = safe(func() string {
		var b bytes.Buffer
		slog.New(slog.NewJSONHandler(&b, nil)).Info("m", "v", v)
		return b.String()
	})
	out["encoding/json"] = safe(func() string {
		b, _ := json.Marshal(v)
		return string(b)
	})
	if e, ok := v.(error); ok {
		out["Error()"] = safe(e.Error)
	}
	return out
}

func safe(f func() string) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprint("panic: ", r)
		}
	}()
	return f()
}
