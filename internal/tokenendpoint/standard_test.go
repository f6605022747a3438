package tokenendpoint

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// corpus returns the bodies of the FuzzParseTokenJSON seed corpus: sample
// answers of real servers and odd shapes, by file name.
func corpus(t testing.TB) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzParseTokenJSON")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, arg, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
		arg = strings.TrimSuffix(strings.TrimPrefix(arg, "[]byte("), ")")
		body, err := strconv.Unquote(arg)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		bodies[e.Name()] = []byte(body)
	}
	return bodies
}

// oddShapes are answers around the edges of the standard shape.
var oddShapes = map[string]string{
	"expires_in string":           `{"access_token":"a","refresh_token":"r","expires_in":"900"}`,
	"expires_in padded string":    `{"access_token":"a","expires_in":" 900 "}`,
	"expires_in float":            `{"access_token":"a","expires_in":899.5}`,
	"expires_in exponent":         `{"access_token":"a","expires_in":9e2}`,
	"expires_in negative":         `{"access_token":"a","expires_in":-1}`,
	"expires_in bool":             `{"access_token":"a","expires_in":true}`,
	"expires_in null":             `{"access_token":"a","expires_in":null}`,
	"expires_in object":           `{"access_token":"a","expires_in":{"s":900}}`,
	"expires_in missing, JWT":     `{"access_token":"` + jwt(`{"exp":1767226200}`) + `"}`,
	"expires_at":                  `{"access_token":"a","expires_at":1767226500}`,
	"expires_at text":             `{"access_token":"a","expires_at":"2026-01-01T00:15:00Z"}`,
	"extra fields":                `{"access_token":"a","scope":"x y","n":1,"ok":false,"z":null,"token_type":"Bearer"}`,
	"extra nested field":          `{"access_token":"a","authorization_details":[{"type":"x"}]}`,
	"numeric refresh token":       `{"access_token":"a","refresh_token":12345}`,
	"bool refresh token":          `{"access_token":"a","refresh_token":true}`,
	"numeric token type":          `{"access_token":"a","token_type":7}`,
	"id token":                    `{"access_token":"a","id_token":"h.p.s"}`,
	"id token number":             `{"access_token":"a","id_token":1}`,
	"keycloak refresh lifetimes":  `{"access_token":"a","refresh_expires_in":null,"refresh_token_expires_in":60}`,
	"github refresh lifetime":     `{"access_token":"a","refresh_token_expires_in":"15811200"}`,
	"refresh lifetime bool first": `{"access_token":"a","refresh_expires_in":true,"refresh_token_expires_in":60}`,
	"refresh expires at":          `{"access_token":"a","refresh_expires_at":1767226500,"refresh_token_expires_at":1}`,
	"duplicate access token":      `{"access_token":"a","access_token":"b"}`,
	"access token then null":      `{"access_token":"a","access_token":null}`,
	"access token number":         `{"access_token":5}`,
	"access token empty":          `{"access_token":""}`,
	"camel beside snake":          `{"access_token":"a","accessToken":"b"}`,
	"envelope beside":             `{"access_token":"a","data":{"access_token":"b"}}`,
	"error beside token":          `{"access_token":"a","error":"invalid_grant"}`,
	"blank error beside token":    `{"access_token":"a","error":" "}`,
	"escaped token":               `{"access_token":"a\u0041","refresh_token":"r\/s"}`,
	"escaped key":                 `{"access\u005ftoken":"a"}`,
	"upper-case key":              `{"ACCESS_TOKEN":"a"}`,
	"non-ASCII":                   `{"access_token":"é"}`,
	"invalid UTF-8":               "{\"access_token\":\"a\xff\"}",
	"trailing data":               `{"access_token":"a"} x`,
	"trailing brace":              `{"access_token":"a"}}`,
	"second value":                `{"access_token":"a"}{"access_token":"b"}`,
	"trailing comma":              `{"access_token":"a",}`,
	"leading space":               " \t\r\n{\"access_token\":\"a\"} \n",
	"empty object":                `{}`,
	"array":                       `[{"access_token":"a"}]`,
	"string":                      `"a"`,
	"unterminated":                `{"access_token":"a"`,
	"bad number":                  `{"access_token":"a","expires_in":01}`,
	"bad literal":                 `{"access_token":"a","x":nul}`,
	"html":                        `<!DOCTYPE html><html><body>Sign in</body></html>`,
	"empty":                       ``,
	"form":                        `access_token=a&expires_in=900`,
}

// TestStandardMatchesGeneric: every sample answer, standard or odd, gives
// the same token or failure through Token as through the generic parser
// alone, and the standard answers take the shortcut.
func TestStandardMatchesGeneric(t *testing.T) {
	bodies := corpus(t)
	for name, body := range oddShapes {
		bodies[name] = []byte(body)
	}
	standard := []string{"snake", "keycloak", "keycloak_offline", "oauth2_no_refresh", "no_expiry",
		"zero_expiry", "negative_expiry", "absurd_expiry", "jwt_only",
		"numeric_refresh_token", "numeric_token_type",
		"expires_in string", "expires_in float", "expires_in bool", "extra fields", "keycloak refresh lifetimes",
		"duplicate access token", "leading space"}
	generic := []string{"camel", "envelope_data", "error_invalid_grant", "html_200", "empty", "invalid",
		"refresh_only", "expires_in_garbage", "invalid_token_type", "expires_in object", "extra nested field", "escaped token", "escaped key",
		"upper-case key", "non-ASCII", "invalid UTF-8", "trailing brace", "trailing data", "camel beside snake",
		"envelope beside", "error beside token", "access token then null", "access token number", "html", "form"}
	for _, name := range standard {
		if _, ok := parseStandard(bodies[name]); !ok {
			t.Errorf("%s: parseStandard declined a standard answer", name)
		}
	}
	for _, name := range generic {
		if _, ok := bodies[name]; !ok {
			t.Fatalf("no sample %q", name)
		}
		if _, ok := parseStandard(bodies[name]); ok {
			t.Errorf("%s: parseStandard accepted an answer for the generic parser", name)
		}
	}
	for name, body := range bodies {
		for _, ctype := range []string{"application/json", "text/plain", "application/x-www-form-urlencoded"} {
			for _, c := range []Call{{Standard: true, Refresh: true, Secrets: []string{"old"}}, {}} {
				r := &Reply{Status: 200, Body: body,
					Header: http.Header{"Content-Type": {ctype}, "Date": {"Thu, 01 Jan 2026 00:00:10 GMT"}}}
				fastTok, fastFail := c.token(r, Paths{}, now(), "old", true)
				tok, fail := c.token(r, Paths{}, now(), "old", false)
				if !reflect.DeepEqual(fastTok, tok) || !reflect.DeepEqual(fastFail, fail) {
					t.Errorf("%s (%s, standard %t): got %+v, %+v; the generic parser gives %+v, %+v",
						name, ctype, c.Standard, fastTok, fastFail, tok, fail)
				}
			}
		}
	}
}

// FuzzStandardMatchesGeneric: whatever parseStandard accepts, the generic
// parser reads to the same token and finds no error code in.
func FuzzStandardMatchesGeneric(f *testing.F) {
	for _, body := range corpus(f) {
		f.Add(body)
	}
	for _, body := range oddShapes {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, ok := parseStandard(body)
		if !ok {
			return
		}
		g, problem := parseTokenJSON(body, &Paths{})
		if g == nil || problem != "" {
			t.Fatalf("parseStandard accepted what the generic parser calls %q", problem)
		}
		r := &Reply{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
		if errorCodeOnSuccess(r) {
			t.Fatal("parseStandard accepted an answer with an error code")
		}
		rc := receipt{now: now()}
		if got, want := p.finish(rc, "old"), g.finish(rc, "old"); !reflect.DeepEqual(got, want) {
			t.Fatalf("parseStandard read %+v, the generic parser %+v", got, want)
		}
	})
}

// TestStandardAllocs pins the cost of reading a standard answer: the body
// as one string, the expires_in number and the Token (three; the generic
// parser needed over thirty).
func TestStandardAllocs(t *testing.T) {
	r := &Reply{Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte(`{"access_token":"at-1","token_type":"bearer","expires_in":900,"refresh_token":"rt-1","scope":"a b"}`)}
	r.Header.Set("Date", "Thu, 01 Jan 2026 00:00:10 GMT")
	c := &Call{Standard: true, Refresh: true}
	allocs := testing.AllocsPerRun(100, func() {
		if _, f := c.Token(r, Paths{}, now(), "old"); f != nil {
			t.Fatal(f)
		}
	})
	if allocs > 4 {
		t.Errorf("Token on a standard answer: %v allocations, want at most 4", allocs)
	}
}

// TestStandardLargeBody: a large standard answer is read too (its fields
// then get strings of their own), and an answer cut at MaxResponseBytes
// never reaches a parser.
func TestStandardLargeBody(t *testing.T) {
	body := []byte(`{"access_token":"a","pad":"` + strings.Repeat("x", 2*smallBody) + `"}`)
	p, ok := parseStandard(body)
	if !ok || p.access != "a" {
		t.Fatalf("parseStandard = %+v, %t", p, ok)
	}
	r := &Reply{Status: 200, Header: http.Header{}, Body: make([]byte, MaxResponseBytes), TooLarge: true}
	if _, f := (&Call{}).Token(r, Paths{}, now(), ""); f == nil || f.Kind != KindTooLarge {
		t.Fatalf("a cut answer: %+v, want KindTooLarge", f)
	}
}
