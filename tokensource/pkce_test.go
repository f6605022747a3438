package tokensource

import (
	"encoding/base64"
	"regexp"
	"testing"
)

// TestS256Challenge checks the challenge against the test vector of RFC
// 7636 appendix B: the verifier's octets, its encoding and its challenge.
func TestS256Challenge(t *testing.T) {
	octets := []byte{116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173,
		187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121}
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := base64.RawURLEncoding.EncodeToString(octets); got != verifier {
		t.Fatalf("verifier encoding = %q, want %q", got, verifier)
	}
	if got := s256Challenge(verifier); got != challenge {
		t.Errorf("s256Challenge(%q) = %q, want %q", verifier, got, challenge)
	}
}

// TestVerifierAndState: verifiers are 43 unreserved characters (RFC 7636
// section 4.1), states 22; every one is new.
func TestVerifierAndState(t *testing.T) {
	unreserved := regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)
	seen := map[string]bool{}
	for range 100 {
		v, s := newVerifier(), newState()
		if len(v) != 43 || !unreserved.MatchString(v) {
			t.Fatalf("verifier %q: want 43 unreserved characters", v)
		}
		if len(s) != 22 || !unreserved.MatchString(s) {
			t.Fatalf("state %q: want 22 unreserved characters", s)
		}
		if seen[v] || seen[s] {
			t.Fatal("a verifier or state repeated")
		}
		seen[v], seen[s] = true, true
	}
}
