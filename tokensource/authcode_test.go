package tokensource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/tokensource/authtest"
)

// acBrowser stands in for the user's browser: it fetches a URL with an
// HTTP client that follows redirects (to the loopback listener too) and
// keeps what it saw last.
type acBrowser struct {
	hc *http.Client

	mu     sync.Mutex // guards the fields below
	opened []string
	status int
	page   string
	err    error
}

func newACBrowser(srv *authtest.Server) *acBrowser {
	return &acBrowser{hc: &http.Client{Transport: srv.Client().Transport}}
}

// open implements AuthCodeGrant.OpenBrowser.
func (b *acBrowser) open(ctx context.Context, u string) error {
	b.mu.Lock()
	b.opened = append(b.opened, u)
	b.mu.Unlock()
	return b.visit(ctx, u)
}

// visit fetches u to the end of its redirects.
func (b *acBrowser) visit(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := b.hc.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = err
	if resp != nil {
		b.status, b.page = resp.StatusCode, string(body)
	}
	return nil // a browser that opened is a success, whatever the page
}

// saw returns the last page's status and body.
func (b *acBrowser) saw() (int, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status, b.page
}

// lastURL returns the last URL opened, parsed.
func (b *acBrowser) lastURL(t *testing.T) *url.URL {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.opened) == 0 {
		t.Fatal("the browser was never opened")
	}
	u, err := url.Parse(b.opened[len(b.opened)-1])
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// acGrant returns an AuthCodeGrant for srv whose browser is b.
func acGrant(srv *authtest.Server, b *acBrowser) *AuthCodeGrant {
	return &AuthCodeGrant{
		AuthorizationURL: srv.AuthorizationURL(), TokenURL: srv.TokenURL(), RevokeURL: srv.RevokeURL(),
		ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, Scopes: []string{"openid"},
		OpenBrowser: b.open, HTTPClient: srv.Client(), Retry: gFast(), Now: gNow,
	}
}

// acClosed fails unless nothing listens on the redirect URI of authURL
// any more.
func acClosed(t *testing.T, authURL *url.URL) {
	t.Helper()
	ru, err := url.Parse(authURL.Query().Get("redirect_uri"))
	if err != nil || ru.Host == "" {
		t.Fatalf("no redirect_uri in %s", authURL)
	}
	if c, err := net.Dial("tcp", ru.Host); err == nil {
		c.Close()
		t.Errorf("the redirect listener %s still accepts connections", ru.Host)
	}
}

// TestAuthCodeLogin logs in against authtest: the browser is sent to the
// authorization endpoint, comes back to the loopback listener, sees the
// success page; the code is exchanged with its verifier; the id_token is
// kept; the URL was printed; the listener is closed.
func TestAuthCodeLogin(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow})
	b := newACBrowser(srv)
	var prompt bytes.Buffer
	g := acGrant(srv, b)
	g.Prompt = &prompt
	tok, err := g.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.IDToken == "" || tok.Expiry != gNow().Add(authtest.DefaultAccessTTL) {
		t.Errorf("Login() = %v (id token %t), want access, refresh and id tokens", tok, tok.IDToken != "")
	}
	if status, page := b.saw(); status != http.StatusOK || !strings.Contains(page, "Logged in") {
		t.Errorf("the browser saw %d %q, want the success page", status, page)
	}
	u := b.lastURL(t)
	if !strings.Contains(prompt.String(), u.String()+"\n") {
		t.Errorf("Prompt = %q, want the URL on a line of its own", prompt.String())
	}
	acClosed(t, u)
	if c := srv.Counters(); c.AuthorizationCodes != 1 || c.Logins != 1 || c.FailedLogins != 0 {
		t.Errorf("server counters %+v, want 1 code exchanged once", c)
	}
	if !g.Interactive() || g.Identity() != strings.ToLower(srv.URL)+" client="+srv.ClientID {
		t.Errorf("Interactive() = %t, Identity() = %q", g.Interactive(), g.Identity())
	}
}

// TestAuthCodeRequest checks the authorization request and the exchange
// on the wire: every parameter, the S256 challenge of the verifier the
// exchange sends, the extra parameters, a public client's client_id.
func TestAuthCodeRequest(t *testing.T) {
	p := gServer(t, gReply(200, "application/json", []byte(`{"access_token":"at-1","refresh_token":"rt-1","id_token":"h.p.s","expires_in":60}`)))
	var authURL *url.URL
	g := &AuthCodeGrant{
		AuthorizationURL: p.srv.URL + "/authorize?tenant=t1", TokenURL: p.srv.URL + "/token", ClientID: "cli",
		Scopes: []string{"openid", "offline_access"}, AuthParams: url.Values{"audience": {"https://api.example.com"}},
		RedirectPath: "/cb", HTTPClient: p.srv.Client(), Retry: gFast(), Now: gNow,
		OpenBrowser: func(ctx context.Context, raw string) error {
			authURL, _ = url.Parse(raw)
			q := authURL.Query()
			back := q.Get("redirect_uri") + "?code=c-1&state=" + url.QueryEscape(q.Get("state"))
			return (&acBrowser{hc: p.srv.Client()}).visit(ctx, back)
		},
	}
	tok, err := g.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.IDToken != "h.p.s" || tok.RefreshToken != "rt-1" {
		t.Errorf("Login() = %v, id token %q", tok, tok.IDToken)
	}
	q := authURL.Query()
	want := map[string]string{"response_type": "code", "client_id": "cli", "scope": "openid offline_access",
		"code_challenge_method": "S256", "audience": "https://api.example.com", "tenant": "t1"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if ru := q.Get("redirect_uri"); !strings.HasPrefix(ru, "http://127.0.0.1:") || !strings.HasSuffix(ru, "/cb") {
		t.Errorf("redirect_uri = %q", ru)
	}
	if len(q.Get("state")) < 22 {
		t.Errorf("state %q is too short", q.Get("state"))
	}
	reqs := p.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d token requests, want 1", len(reqs))
	}
	form, _ := url.ParseQuery(reqs[0].body)
	if form.Get("grant_type") != "authorization_code" || form.Get("code") != "c-1" || form.Get("redirect_uri") != q.Get("redirect_uri") ||
		form.Get("client_id") != "cli" || reqs[0].auth != "" {
		t.Errorf("token request form %v, Authorization %q", form, reqs[0].auth)
	}
	if v := form.Get("code_verifier"); len(v) != 43 || s256Challenge(v) != q.Get("code_challenge") {
		t.Errorf("code_verifier %q does not match code_challenge %q", v, q.Get("code_challenge"))
	}
}

// TestAuthCodeStateMismatch: a redirect with another state fails with
// ErrStateMismatch, shows the failure page, exchanges nothing, and closes
// the listener.
func TestAuthCodeStateMismatch(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow})
	b := newACBrowser(srv)
	g := acGrant(srv, b)
	g.OpenBrowser = func(ctx context.Context, raw string) error {
		b.mu.Lock()
		b.opened = append(b.opened, raw)
		b.mu.Unlock()
		u, _ := url.Parse(raw)
		return b.visit(ctx, u.Query().Get("redirect_uri")+"?code=stolen&state=forged")
	}
	_, err := g.Login(t.Context())
	if !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("Login() = %v, want ErrStateMismatch", err)
	}
	checkPrefixOnce(t, err)
	if status, page := b.saw(); status != http.StatusBadRequest || !strings.Contains(page, "Login failed") {
		t.Errorf("the browser saw %d %q, want the failure page", status, page)
	}
	acClosed(t, b.lastURL(t))
	if c := srv.Counters(); c.Logins+c.FailedLogins != 0 {
		t.Errorf("server counters %+v: a code was exchanged", c)
	}
}

// TestAuthCodeDenied: error=access_denied on the redirect is an
// AuthorizationError matching ErrAccessDenied (and ErrReauthRequired).
func TestAuthCodeDenied(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow})
	srv.DenyAuthorization()
	b := newACBrowser(srv)
	_, err := acGrant(srv, b).Login(t.Context())
	var ae *AuthorizationError
	if !errors.As(err, &ae) || ae.Code != "access_denied" || !errors.Is(err, ErrAccessDenied) || !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("Login() = %v, want an access_denied AuthorizationError", err)
	}
	if ae.Description == "" || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("error %q (description %q), want a clear message", err, ae.Description)
	}
	checkPrefixOnce(t, err)
	if status, page := b.saw(); status != http.StatusBadRequest || !strings.Contains(page, "access denied") {
		t.Errorf("the browser saw %d %q", status, page)
	}
	acClosed(t, b.lastURL(t))
}

// TestAuthCodeContextEnds: a login nobody completes ends with its context,
// and closes the listener.
func TestAuthCodeContextEnds(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow})
	ctx, cancel := context.WithCancel(t.Context())
	var opened string
	g := acGrant(srv, nil)
	g.OpenBrowser = func(_ context.Context, raw string) error {
		opened = raw
		cancel() // the user walks away
		return nil
	}
	_, err := g.Login(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for the browser") {
		t.Fatalf("Login() = %v, want context.Canceled while waiting for the browser", err)
	}
	checkPrefixOnce(t, err)
	u, _ := url.Parse(opened)
	acClosed(t, u)
}

// TestAuthCodeNoBrowser: with NoBrowser the URL is only printed; the user
// opens it by hand. A failing OpenBrowser is reported on Prompt and the
// login goes on; without a Prompt it ends the login.
func TestAuthCodeNoBrowser(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow})
	for _, mode := range []string{"no browser", "browser fails"} {
		t.Run(mode, func(t *testing.T) {
			b := newACBrowser(srv)
			prompt := &acPrompt{b: b, ctx: t.Context()}
			g := acGrant(srv, b)
			g.Prompt = prompt
			g.OpenBrowser = func(context.Context, string) error { return errors.New("no display") }
			g.NoBrowser = mode == "no browser"
			if !g.NoBrowser {
				prompt.waitFor = "Could not open a browser"
			}
			if _, err := g.Login(t.Context()); err != nil {
				t.Fatal(err)
			}
			prompt.wg.Wait()
			out := prompt.String()
			if g.NoBrowser != strings.HasPrefix(out, "To log in, open this URL") || g.NoBrowser == strings.Contains(out, "no display") {
				t.Errorf("Prompt = %q", out)
			}
			if status, _ := b.saw(); status != http.StatusOK {
				t.Errorf("the user's browser saw %d", status)
			}
		})
	}
	g := acGrant(srv, nil)
	g.OpenBrowser = func(context.Context, string) error { return errors.New("no display") }
	if _, err := g.Login(t.Context()); err == nil || !strings.Contains(err.Error(), "no display") {
		t.Errorf("Login() without Prompt, browser failing = %v", err)
	}
}

// acPrompt is a Prompt whose reader opens the first URL printed.
type acPrompt struct {
	b   *acBrowser
	ctx context.Context
	wg  sync.WaitGroup
	// waitFor, when set, is text the user reads before opening the URL
	// (a note that the browser could not be opened).
	waitFor string

	mu      sync.Mutex // guards out, visited
	out     bytes.Buffer
	visited bool
}

func (p *acPrompt) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
	if !p.visited && strings.Contains(p.out.String(), p.waitFor) {
		p.visited = true
		var u string
		for _, line := range strings.Split(p.out.String(), "\n") {
			if strings.HasPrefix(line, "http") {
				u = line
				break
			}
		}
		p.wg.Go(func() { _ = p.b.visit(p.ctx, u) })
	}
	return len(b), nil
}

func (p *acPrompt) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// TestAuthCodeConfig: configurations Login refuses before it listens or
// opens anything.
func TestAuthCodeConfig(t *testing.T) {
	opened := false
	base := AuthCodeGrant{AuthorizationURL: "https://auth.example.com/authorize", TokenURL: "https://auth.example.com/token",
		ClientID: "cli", OpenBrowser: func(context.Context, string) error { opened = true; return nil }}
	tests := []struct {
		name   string
		change func(g *AuthCodeGrant)
		is     error
	}{
		{"no client", func(g *AuthCodeGrant) { g.ClientID = "" }, nil},
		{"http authorization endpoint", func(g *AuthCodeGrant) { g.AuthorizationURL = "http://auth.example.com/authorize" }, ErrInsecureEndpoint},
		{"http token endpoint", func(g *AuthCodeGrant) { g.TokenURL = "http://auth.example.com/token" }, ErrInsecureEndpoint},
		{"no authorization endpoint", func(g *AuthCodeGrant) { g.AuthorizationURL = "" }, nil},
		{"reserved parameter", func(g *AuthCodeGrant) { g.AuthParams = url.Values{"state": {"x"}} }, nil},
		{"scope twice", func(g *AuthCodeGrant) { g.Scopes, g.AuthParams = []string{"a"}, url.Values{"scope": {"b"}} }, nil},
		{"bad port", func(g *AuthCodeGrant) { g.RedirectPort = 70000 }, nil},
		{"bad path", func(g *AuthCodeGrant) { g.RedirectPath = "cb" }, nil},
		{"no browser, no prompt", func(g *AuthCodeGrant) { g.NoBrowser = true }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := base
			tt.change(&g)
			_, err := g.Login(t.Context())
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("Login() = %v, want an error matching %v", err, tt.is)
			}
			checkPrefixOnce(t, err)
		})
	}
	if opened {
		t.Error("a browser was opened for a configuration Login refuses")
	}
}

// TestAuthCodeRedirectPort: a fixed port is used as given; a busy one
// fails at once.
func TestAuthCodeRedirectPort(t *testing.T) {
	srv := authtest.NewServer(t, authtest.Options{Now: gNow})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := busy.Addr().(*net.TCPAddr).Port
	g := acGrant(srv, newACBrowser(srv))
	g.RedirectPort = port
	if _, err := g.Login(t.Context()); err == nil || !strings.Contains(err.Error(), "listening") {
		t.Errorf("Login() on a busy port = %v", err)
	}
	busy.Close()
	b := newACBrowser(srv)
	g = acGrant(srv, b)
	g.RedirectPort = port
	if _, err := g.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ru := b.lastURL(t).Query().Get("redirect_uri"); ru != "http://127.0.0.1:"+strconv.Itoa(port)+"/callback" {
		t.Errorf("redirect_uri = %q, want port %d", ru, port)
	}
}
