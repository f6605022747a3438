package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// originOf returns scheme://host[:port] of raw with the scheme and host
// lowercased and a default port dropped; "" when raw is no absolute
// http(s) URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host
}

// apiOrigins returns the origins the profile's token is meant for: those
// given with --api-url at login, else the origin of the login or token URL.
func (p *profile) apiOrigins() []string {
	if len(p.APIURLs) > 0 {
		return p.APIURLs
	}
	raw := p.TokenURL
	if p.Mode == modeJSON {
		raw = p.LoginURL
	}
	return []string{originOf(raw)}
}

// checkTarget refuses to send the profile's token to rawURL unless its
// origin is one of the profile's API origins or its host is allowed for
// this call (allow holds hosts or host:port pairs).
func checkTarget(p *profile, profileName, rawURL string, allow []string) error {
	o := originOf(rawURL)
	for _, want := range p.apiOrigins() {
		if o == want {
			return nil
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return usageErr("invalid URL %q", rawURL)
	}
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == strings.ToLower(u.Hostname()) || a == strings.ToLower(u.Host) {
			return nil
		}
	}
	return usageErr("refusing to send the token of profile %q to %s: it is not one of the profile's API origins (%s); add it with 'tokenrefresh login --api-url %s' or allow it for this call with --allow-host %s",
		profileName, o, strings.Join(p.apiOrigins(), ", "), o, u.Host)
}

// checkAPIURLs validates --api-url values and turns them into origins.
func checkAPIURLs(raw []string) ([]string, error) {
	var out []string
	for _, r := range raw {
		if err := checkURL(r); err != nil {
			return nil, fmt.Errorf("--api-url: %w", err)
		}
		out = append(out, originOf(r))
	}
	return out, nil
}
