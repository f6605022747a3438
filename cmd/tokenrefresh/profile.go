package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
)

// Login modes.
const (
	modeOAuth2 = "oauth2" // RFC 6749 token endpoint, password + refresh_token grants
	modeJSON   = "json"   // in-house JSON login/refresh API
)

// OAuth2 client authentication styles (--auth-style).
const (
	authStyleBasic = "basic" // HTTP Basic (RFC 6749 section 2.3.1), the default
	authStyleForm  = "form"  // client_id and client_secret in the form body
)

// profile is what "login" saves so that later commands need no flags. It
// never holds a secret: the client secret is read from a file (whose path is
// kept) or from the environment, and the password is never stored.
type profile struct {
	Mode string `json:"mode"`
	// Flow is how a session starts (see flows.go): password (also when
	// empty, as in profiles saved before it existed), browser, device,
	// client-credentials, or refresh-token (seeded from stdin, with no way
	// to log in again).
	Flow string `json:"flow,omitempty"`

	// OAuth2 mode. Issuer is the authorization server the endpoints were
	// discovered from, if they were; an explicit URL flag wins over a
	// discovered one.
	Issuer                 string `json:"issuer,omitempty"`
	TokenURL               string `json:"token_url,omitempty"`
	RevokeURL              string `json:"revoke_url,omitempty"`
	AuthorizationURL       string `json:"authorization_url,omitempty"`
	DeviceAuthorizationURL string `json:"device_authorization_url,omitempty"`
	// RedirectPort is the browser flow's fixed loopback port; 0 picks a
	// free one at each login. NoBrowser prints the URL only.
	RedirectPort     int      `json:"redirect_port,omitempty"`
	NoBrowser        bool     `json:"no_browser,omitempty"`
	ClientID         string   `json:"client_id,omitempty"`
	ClientSecretFile string   `json:"client_secret_file,omitempty"`
	Scopes           []string `json:"scopes,omitempty"`
	// AuthStyle is how the client authenticates: basic (also when
	// empty, as in profiles saved before it existed) or form.
	AuthStyle string `json:"auth_style,omitempty"`

	// JSON mode.
	LoginURL   string `json:"login_url,omitempty"`
	RefreshURL string `json:"refresh_url,omitempty"`
	LogoutURL  string `json:"logout_url,omitempty"`

	// Username is the resource owner of the password flow. Other flows
	// may keep one as a label (and the browser flow sends it as a
	// login_hint).
	Username string `json:"username,omitempty"`
	// APIURLs are the origins (scheme://host[:port]) of the APIs the
	// session's token is for; "get" refuses other origins. Empty means the
	// origin of the login or token URL.
	APIURLs []string `json:"api_urls,omitempty"`
	// Store is the backend asked for at login: auto, keyring, file,
	// postgres or redis.
	Store string `json:"store"`
	// StoreURL is where a postgres or redis store lives, as given with
	// --store-url but never with its password. Empty: the engine's
	// environment (PGHOST…, REDIS_URL).
	StoreURL string `json:"store_url,omitempty"`
	// Backend is the backend actually used: keyring, file, postgres or
	// redis. Later
	// commands open exactly this one, so a session stored in the keyring is
	// never silently looked for in files.
	Backend string `json:"backend"`
	// Key is the storage key of the session.
	Key string `json:"key"`
}

var profileName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// configDir resolves the state directory: the flag, else
// TOKENREFRESH_CONFIG_DIR, else the user's config directory.
func (e *env) configDir(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if d := e.getenv("TOKENREFRESH_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory: %w (use --config-dir or TOKENREFRESH_CONFIG_DIR)", err)
	}
	return filepath.Join(d, "tokenrefresh"), nil
}

func profilePath(dir, name string) (string, error) {
	if !profileName.MatchString(name) {
		return "", usageErr("invalid profile name %q: use letters, digits, '.', '_' or '-'", name)
	}
	return filepath.Join(dir, "profiles", name+".json"), nil
}

// errNoProfile means the profile was never saved.
var errNoProfile = errors.New("no such profile")

func loadProfile(dir, name string) (*profile, error) {
	path, err := profilePath(dir, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("profile %q: %w; run `tokenrefresh login` first", name, errNoProfile)
	}
	if err != nil {
		return nil, fmt.Errorf("profile %q: %w", name, err)
	}
	var p profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("profile %q: %s: %w", name, path, err)
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("profile %q: %s: %w", name, path, err)
	}
	return &p, nil
}

// saveProfile writes the profile atomically, 0600 in a 0700 directory.
func saveProfile(dir, name string, p *profile) error {
	path, err := profilePath(dir, name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".profile-*")
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	return nil
}

func (p *profile) validate() error {
	switch p.Mode {
	case modeOAuth2:
		if p.TokenURL == "" {
			return errors.New("oauth2 profile without token_url")
		}
	case modeJSON:
		if p.LoginURL == "" || p.RefreshURL == "" {
			return errors.New("json profile without login_url or refresh_url")
		}
	default:
		return fmt.Errorf("unknown mode %q", p.Mode)
	}
	switch p.AuthStyle {
	case "", authStyleBasic, authStyleForm:
	default:
		return fmt.Errorf("unknown auth_style %q", p.AuthStyle)
	}
	if err := p.validateFlow(); err != nil {
		return err
	}
	if p.flow() == flowPassword && p.Username == "" {
		return errors.New("profile without username")
	}
	return nil
}

// validateFlow checks that the profile's flow is known, fits its mode and
// has the endpoints it needs.
func (p *profile) validateFlow() error {
	switch p.flow() {
	case flowPassword, flowRefreshToken:
	case flowBrowser, flowDevice, flowClientCredentials:
		if p.Mode != modeOAuth2 {
			return fmt.Errorf("the %s flow needs an OAuth2 profile", p.Flow)
		}
	default:
		return fmt.Errorf("unknown flow %q", p.Flow)
	}
	if p.Mode == modeJSON && p.flow() != flowPassword {
		return fmt.Errorf("the %s flow needs an OAuth2 profile", p.Flow)
	}
	if field := p.missingEndpoint(); field != "" {
		return fmt.Errorf("%s profile without %s", p.flow(), field)
	}
	return nil
}

// flow is p.Flow with the default of profiles saved before flows existed.
func (p *profile) flow() string {
	if p.Flow == "" {
		return flowPassword
	}
	return p.Flow
}

// account names the session for people: "alice at auth.example.com", or
// the server alone when the flow knows no user.
func (p *profile) account() string {
	if p.Username == "" {
		return p.host()
	}
	return p.Username + " at " + p.host()
}

// host is the authorization server's host, used in the storage key.
func (p *profile) host() string {
	raw := p.TokenURL
	if p.Mode == modeJSON {
		raw = p.LoginURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
