package tokensource

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// gJWT returns an unsigned JWT with claims.
func gJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(claims)) + ".sig"
}

var gUpdate = flag.Bool("update-grants", false, "rewrite the grant tests' golden error messages")

// gWant is the expected outcome of parsing a recorded success response.
type gWant struct {
	access, refresh, typ  string
	expiry, refreshExpiry time.Duration // from gNow; 0 = zero time
}

func gCheckToken(t *testing.T, tok *Token, w gWant) {
	t.Helper()
	at := func(d time.Duration) time.Time {
		if d == 0 {
			return time.Time{}
		}
		return gNow().Add(d)
	}
	type view struct {
		Access, Refresh, Type string
		Expiry, RefreshExpiry time.Time
	}
	got := view{tok.AccessToken, tok.RefreshToken, tok.Type(), tok.Expiry, tok.RefreshExpiry}
	want := view{w.access, w.refresh, w.typ, at(w.expiry), at(w.refreshExpiry)}
	if !strings.HasPrefix(w.access, "at-") { // a JWT: compare its presence only
		want.Access = got.Access
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token mismatch (-want +got):\n%s", diff)
	}
}

func TestJSONGrantShapes(t *testing.T) {
	tests := []struct {
		file string
		want gWant
	}{
		{"snake.json", gWant{"at-snake", "rt-snake", "Bearer", 900 * time.Second, 12 * time.Hour}},
		{"camel.json", gWant{"at-camel", "rt-camel", "Bearer", 900 * time.Second, 12 * time.Hour}},
		{"envelope_data.json", gWant{"at-env", "rt-env", "Bearer", 900 * time.Second, 12 * time.Hour}},
		{"envelope_result_camel.json", gWant{"at-result", "rt-result", "Bearer", 900 * time.Second, 0}},
		{"absolute_rfc3339.json", gWant{"at-abs", "rt-abs", "Bearer", 15 * time.Minute, 12 * time.Hour}},
		{"absolute_epoch.json", gWant{"at-epoch", "rt-epoch", "Bearer", 15 * time.Minute, 12 * time.Hour}},
		{"jwt_only.json", gWant{"jwt", "rt-jwt", "Bearer", 10 * time.Minute, 0}},
		{"no_expiry.json", gWant{"at-opaque", "rt-opaque", "Bearer", 0, 0}},
		{"keycloak.json", gWant{"jwt", "rt-keycloak", "Bearer", 5 * time.Minute, 30 * time.Minute}},
		{"keycloak_offline.json", gWant{"at-offline", "rt-offline", "Bearer", 5 * time.Minute, 0}},
		{"oauth2_no_refresh.json", gWant{"at-norotate", "rt-old", "Bearer", time.Hour, 0}},
	}
	tests = append(tests, gOddShapes...)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := gServer(t, gReply(200, "application/json", gFile(t, tt.file)))
			tok, err := gJSON(p).Refresh(t.Context(), "rt-old")
			if err != nil {
				t.Fatalf("Refresh() error = %v", err)
			}
			gCheckToken(t, tok, tt.want)
		})
	}
}

// gOddShapes are recorded success answers with odd fields besides the
// access token: each is accepted, normalised, and its refresh token kept.
var gOddShapes = []struct {
	file string
	want gWant
}{
	{"zero_expiry.json", gWant{"at-zero", "rt-old", "Bearer", 0, 0}},
	{"negative_expiry.json", gWant{"at-neg", "rt-old", "Bearer", 0, 0}},
	{"absurd_expiry.json", gWant{"at-absurd", "rt-old", "Bearer", 0, 0}},
	{"past_expires_at.json", gWant{"at-past", "rt-old", "Bearer", 0, 0}},
	{"expires_in_garbage.json", gWant{"at-garbage", "rt-garbage", "Bearer", 0, 0}},
	{"numeric_token_type.json", gWant{"at-numtype", "rt-numtype", "Bearer", 15 * time.Minute, 0}},
	{"invalid_token_type.json", gWant{"at-badtype", "rt-badtype", "Bearer", 15 * time.Minute, 0}},
	{"odd_refresh_expiry.json", gWant{"at-oddrexp", "rt-oddrexp", "Bearer", 15 * time.Minute, 0}},
	{"numeric_refresh_token.json", gWant{"at-numrt", "98765432109876543210", "Bearer", 15 * time.Minute, 0}},
	{"jwt_expires_in_zero.json", gWant{"jwt", "rt-jwt0", "Bearer", 10 * time.Minute, 0}},
}

// gErrorCase is a recorded response that must not yield a token.
type gErrorCase struct {
	file, ctype string
	status      int
	rejected    bool
	code        string
	is          error // nil: no particular sentinel
	unknown     bool  // the refresh's outcome is unknown
}

var gErrorCases = []gErrorCase{
	{file: "error_invalid_grant.json", status: 400, rejected: true, code: "invalid_grant"},
	{file: "error_invalid_client.json", status: 401, code: "invalid_client"},
	{file: "error_nested_reused.json", status: 401, rejected: true, code: "TOKEN_REUSED"},
	{file: "error_list_expired.json", status: 422, rejected: true, code: "E_EXPIRED"},
	{file: "error_leaky.json", status: 500, code: "server_error", unknown: true},
	{file: "form_error.txt", ctype: "application/x-www-form-urlencoded", status: 400, rejected: true, code: "invalid_grant"},
	{file: "html_502.html", ctype: "text/html", status: 502, unknown: true},
	{file: "html_200.html", ctype: "text/html", status: 200, is: ErrMalformedResponse, unknown: true},
	{file: "empty.json", status: 200, is: ErrMalformedResponse, unknown: true},
	{file: "invalid.json", status: 200, is: ErrMalformedResponse, unknown: true},
	{file: "missing_access_token.json", status: 200, is: ErrMalformedResponse, unknown: true},
}

// gCheckError checks a failed refresh against c and the golden message.
func gCheckError(t *testing.T, kind string, err error, c gErrorCase) {
	t.Helper()
	te := gTokenError(t, err)
	if te.StatusCode != c.status || te.Rejected != c.rejected || te.Code != c.code {
		t.Errorf("TokenError{Status %d, Rejected %v, Code %q}, want {%d, %v, %q}",
			te.StatusCode, te.Rejected, te.Code, c.status, c.rejected, c.code)
	}
	if got, want := errors.Is(err, ErrReauthRequired), c.rejected || c.unknown; got != want {
		t.Errorf("errors.Is(err, ErrReauthRequired) = %v, want %v", got, want)
	}
	if got := errors.Is(err, ErrRefreshOutcomeUnknown); got != c.unknown {
		t.Errorf("errors.Is(err, ErrRefreshOutcomeUnknown) = %v, want %v", got, c.unknown)
	}
	if c.is != nil && !errors.Is(err, c.is) {
		t.Errorf("error %v does not wrap %v", err, c.is)
	}
	msg := err.Error() + " " + te.Body
	for _, secret := range []string{"SECRET", "wonderland", "s3cret", "rt-old"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error message %q leaks %q", msg, secret)
		}
	}
	golden := filepath.Join("testdata", "errors", kind+"_"+strings.TrimSuffix(c.file, filepath.Ext(c.file))+".golden")
	if *gUpdate {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(err.Error()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, rerr := os.ReadFile(golden)
	if rerr != nil {
		t.Fatalf("%v (run go test -update-grants)", rerr)
	}
	if got := err.Error() + "\n"; got != string(want) {
		t.Errorf("Error() = %q, want %q (golden %s)", got, want, golden)
	}
}

func TestJSONGrantErrors(t *testing.T) {
	for _, c := range gErrorCases {
		t.Run(c.file, func(t *testing.T) {
			ctype := c.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			p := gServer(t, gReply(c.status, ctype, gFile(t, c.file)))
			tok, err := gJSON(p).Refresh(t.Context(), "rt-old")
			if tok != nil {
				t.Errorf("Refresh() token = %v, want nil", tok)
			}
			gCheckError(t, "json", err, c)
			if n := p.hits.Load(); n != 1 {
				t.Errorf("endpoint hits = %d, want 1", n)
			}
		})
	}
}

func TestOversizedBody(t *testing.T) {
	big := `{"access_token":"at-big","pad":"` + strings.Repeat("A", 1<<20) + `"}`
	for name, g := range map[string]func(*gPeer) Grant{
		"json":     func(p *gPeer) Grant { return gJSON(p) },
		"password": func(p *gPeer) Grant { return gPassword(p) },
	} {
		t.Run(name, func(t *testing.T) {
			p := gServer(t, gReply(200, "application/json", []byte(big)))
			_, err := g(p).Refresh(t.Context(), "rt-old")
			te := gTokenError(t, err)
			if !errors.Is(err, ErrResponseTooLarge) || !errors.Is(err, ErrMalformedResponse) || te.Rejected {
				t.Errorf("Refresh() error = %v, want ErrResponseTooLarge, not rejected", err)
			}
			if len(te.Body) > 200+len("…") {
				t.Errorf("excerpt is %d bytes, want at most 200", len(te.Body))
			}
		})
	}
}

func TestJSONGrantRequests(t *testing.T) {
	p := gServer(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/logout" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write(gFile(t, "camel.json"))
	})
	g := gJSON(p)
	g.Password = ""
	g.PasswordFunc = func(ctx context.Context) (string, error) { return "from-prompt", nil }
	g.Header = http.Header{"X-Api-Key": {"k1"}}
	before := strings.Join(g.refreshFields(), ",")
	tok, err := g.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Refresh(t.Context(), tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := g.Revoke(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if before != "refresh_token,refreshToken" {
		t.Errorf("refresh fields before any response = %q, want both spellings", before)
	}
	reqs := p.requests()
	if len(reqs) != 3 {
		t.Fatalf("endpoint saw %d requests, want 3", len(reqs))
	}
	wantBodies := []map[string]string{
		{"username": "alice", "password": "from-prompt"},
		{"refreshToken": "rt-camel"}, // the login response was camelCase
		{"refreshToken": "rt-camel"},
	}
	for i, r := range reqs {
		var got map[string]string
		if err := json.Unmarshal([]byte(r.body), &got); err != nil {
			t.Fatalf("request %d body %q: %v", i, r.body, err)
		}
		if diff := cmp.Diff(wantBodies[i], got); diff != "" {
			t.Errorf("request %d (%s) body (-want +got):\n%s", i, r.path, diff)
		}
		if r.ctype != "application/json" {
			t.Errorf("request %d Content-Type = %q", i, r.ctype)
		}
	}
	if reqs[2].auth != "Bearer at-camel" {
		t.Errorf("logout Authorization = %q, want the access token", reqs[2].auth)
	}
}

func TestJSONGrantMapping(t *testing.T) {
	body := `{"ok":true,"payload":{"session":{"jwt":"at-mapped","renew":"rt-mapped","ttl":"60","renewUntil":1767229200}}}`
	p := gServer(t, gReply(200, "application/json", []byte(body)))
	g := gJSON(p)
	g.Mapping = JSONMapping{
		UsernameField: "auth.login", PasswordField: "auth.secret", RefreshTokenField: "renew",
		AccessToken: "payload.session.jwt", RefreshToken: "payload.session.renew",
		ExpiresIn: "payload.session.ttl", RefreshExpiresAt: "payload.session.renewUntil",
	}
	tok, err := g.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	gCheckToken(t, tok, gWant{"at-mapped", "rt-mapped", "Bearer", time.Minute, time.Hour})
	if _, err := g.Refresh(t.Context(), "rt-mapped"); err != nil {
		t.Fatal(err)
	}
	reqs := p.requests()
	if reqs[0].body != `{"auth":{"login":"alice","secret":"wonderland"}}` || reqs[1].body != `{"renew":"rt-mapped"}` {
		t.Errorf("request bodies = %q, %q", reqs[0].body, reqs[1].body)
	}
}

func TestGrantCredentials(t *testing.T) {
	prompt := errors.New("no terminal")
	tests := []struct {
		name string
		user string
		pass string
		fn   func(context.Context) (string, error)
		want error
	}{
		{"no username", "", "pw", nil, ErrNoCredentials},
		{"no password", "alice", "", nil, ErrNoCredentials},
		{"prompt fails", "alice", "", func(context.Context) (string, error) { return "", prompt }, prompt},
		{"prompt empty", "alice", "", func(context.Context) (string, error) { return "", nil }, ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gServer(t, gReply(200, "application/json", gFile(t, "snake.json")))
			j := gJSON(p)
			j.Username, j.Password, j.PasswordFunc = tt.user, tt.pass, tt.fn
			pw := gPassword(p)
			pw.Username, pw.Password, pw.PasswordFunc = tt.user, tt.pass, tt.fn
			for _, g := range []Grant{j, pw} {
				_, err := g.Login(t.Context())
				if !errors.Is(err, tt.want) || !errors.Is(err, ErrReauthRequired) {
					t.Errorf("%T.Login() error = %v, want %v and ErrReauthRequired", g, err, tt.want)
				}
			}
			if n := p.hits.Load(); n != 0 {
				t.Errorf("endpoint hits = %d, want 0", n)
			}
		})
	}
	var g JSONGrant
	if _, err := g.Refresh(t.Context(), ""); !errors.Is(err, ErrNoRefreshToken) {
		t.Errorf("Refresh(\"\") error = %v, want ErrNoRefreshToken", err)
	}
}

// TestJSONGrantRefreshBeforeStyleKnown: a new process continuing a stored
// session has not seen the API's naming style yet; its first refresh must
// work against a camelCase-only API instead of forcing a re-login.
func TestJSONGrantRefreshBeforeStyleKnown(t *testing.T) {
	p := gServer(t, gReply(200, "application/json", gFile(t, "camel.json")))
	g := gJSON(p)
	tok, err := g.Refresh(t.Context(), "rt-stored")
	if err != nil {
		t.Fatalf("first Refresh of a new grant: %v", err)
	}
	var sent map[string]string
	if err := json.Unmarshal([]byte(p.requests()[0].body), &sent); err != nil {
		t.Fatal(err)
	}
	if sent["refreshToken"] != "rt-stored" || sent["refresh_token"] != "rt-stored" {
		t.Fatalf("first refresh sent %v, want both spellings so a camelCase API accepts it", sent)
	}
	if tok.RefreshToken != "rt-camel" {
		t.Fatalf("RefreshToken = %q, want the rotated one", tok.RefreshToken)
	}
	if got := g.refreshFields(); len(got) != 1 || got[0] != "refreshToken" {
		t.Fatalf("refresh fields after a camelCase response = %v, want [refreshToken]", got)
	}
}
