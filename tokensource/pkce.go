package tokensource

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// PKCE (RFC 7636) binds an authorization code to the login that asked for
// it: the login keeps a random code_verifier, sends only its S256
// challenge with the authorization request, and proves it holds the
// verifier when it exchanges the code. Whoever intercepts the code (another
// app on the loopback port, a browser extension) cannot exchange it.

// randomString returns n random bytes from crypto/rand, base64url-encoded
// without padding: characters RFC 7636 section 4.1 allows in a
// code_verifier, and safe in a URL as a state.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newVerifier returns a code_verifier of 43 characters: 256 bits of
// randomness, the length RFC 7636 section 4.1 recommends.
func newVerifier() string { return randomString(32) }

// newState returns a state value of 128 random bits (RFC 6749 section
// 10.12: not guessable).
func newState() string { return randomString(16) }

// s256Challenge returns the S256 code_challenge of verifier:
// BASE64URL(SHA256(ASCII(verifier))), RFC 7636 section 4.2.
func s256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
