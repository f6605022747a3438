package authtest

import "net/http"

// Paths of the metadata documents.
const (
	pathOAuthMetadata = "/.well-known/oauth-authorization-server"
	pathOIDCMetadata  = "/.well-known/openid-configuration"
)

// IssuerURL returns the server's issuer identifier, which is its URL: the
// "issuer" of its metadata documents, and what a client passes to an RFC
// 8414 or OpenID Connect discovery.
func (s *Server) IssuerURL() string { return s.URL }

// grantTypes are the grant types /oauth2/token supports.
var grantTypes = []string{"password", "refresh_token", "client_credentials", "authorization_code", deviceGrantType}

// metadata builds the server's metadata document: what it implements.
func (s *Server) metadata() map[string]any {
	auth := []string{"client_secret_basic", "client_secret_post"}
	if s.opts.PublicClient || s.opts.AnyClient {
		auth = append(auth, "none")
	}
	return map[string]any{
		"issuer":                                     s.URL,
		"authorization_endpoint":                     s.AuthorizationURL(),
		"token_endpoint":                             s.TokenURL(),
		"device_authorization_endpoint":              s.DeviceAuthorizationURL(),
		"revocation_endpoint":                        s.RevokeURL(),
		"grant_types_supported":                      append([]string(nil), grantTypes...),
		"response_types_supported":                   []string{"code"},
		"code_challenge_methods_supported":           []string{"S256"},
		"token_endpoint_auth_methods_supported":      auth,
		"revocation_endpoint_auth_methods_supported": auth,
	}
}

// handleMetadata serves the metadata document at both well-known paths,
// after Options.MutateDiscovery.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	doc := s.metadata()
	if s.opts.MutateDiscovery != nil {
		s.opts.MutateDiscovery(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}
