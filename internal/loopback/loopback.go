// Package loopback tells whether a URL points at this machine, which is where
// plain http:// is acceptable for carrying secrets.
package loopback

import (
	"net"
	"net/url"
	"strings"
)

// Host reports whether host (a host name or IP literal, without port) is a
// loopback IP address (127.0.0.0/8, ::1) or exactly the name "localhost"
// (any case, with or without a trailing dot).
//
// Names under ".localhost" are not trusted: RFC 6761 asks resolvers to map
// them to loopback, but a resolver or /etc/hosts that does not would send
// secrets over plain http to another machine.
func Host(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
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
