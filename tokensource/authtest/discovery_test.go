package authtest

import (
	"net/http"
	"testing"
)

// TestDiscovery: both well-known paths serve the same document, whose
// issuer is the server's URL, and MutateDiscovery rewrites it.
func TestDiscovery(t *testing.T) {
	s := NewServer(t, Options{})
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := get(t, s.URL, path, "")
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %q", path, r.status, r.header.Get("Content-Type"))
		}
		want := map[string]string{"issuer": s.IssuerURL(), "token_endpoint": s.TokenURL(), "revocation_endpoint": s.RevokeURL(),
			"authorization_endpoint": s.AuthorizationURL(), "device_authorization_endpoint": s.DeviceAuthorizationURL()}
		for k, v := range want {
			if r.str(k) != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, r.str(k), v)
			}
		}
		grants, _ := r.json["grant_types_supported"].([]any)
		if len(grants) != 5 || grants[2] != "client_credentials" || grants[3] != "authorization_code" ||
			grants[4] != "urn:ietf:params:oauth:grant-type:device_code" {
			t.Errorf("GET %s: grant_types_supported = %v", path, grants)
		}
		if m, _ := r.json["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
			t.Errorf("GET %s: code_challenge_methods_supported = %v, want [S256]", path, m)
		}
	}
	if s.IssuerURL() != s.URL {
		t.Errorf("IssuerURL() = %q, want URL %q", s.IssuerURL(), s.URL)
	}

	m := NewServer(t, Options{MutateDiscovery: func(doc map[string]any) {
		doc["issuer"] = "https://elsewhere.example"
		delete(doc, "token_endpoint")
	}})
	r := get(t, m.URL, "/.well-known/oauth-authorization-server", "")
	if r.str("issuer") != "https://elsewhere.example" || r.json["token_endpoint"] != nil {
		t.Errorf("mutated document = %s", r.body)
	}
	if r := get(t, m.URL, "/.well-known/openid-configuration", ""); r.str("issuer") != "https://elsewhere.example" {
		t.Errorf("mutated OpenID document = %s", r.body)
	}
}
