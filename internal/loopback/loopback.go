// Package loopback tells whether a URL points at this machine, which is where
// plain http:// is acceptable for carrying secrets.
package loopback

import (
	"net"
	"net/url"
	"strings"
)

// Host reports whether host (a host name or IP literal, without port) is
// "localhost", a name under ".localhost", or a loopback IP address.
func Host(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// SecureURL reports whether secrets may be sent to u: it uses https, or it
// uses http to a loopback host.
func SecureURL(u *url.URL) bool {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return true
	case "http":
		return Host(u.Hostname())
	}
	return false
}
