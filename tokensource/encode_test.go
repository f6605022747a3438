package tokensource

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestEncodingGolden pins the current on-disk format and proves that every
// version ever written still decodes. Never edit an old file; when the
// format changes, add stored/vN.json beside the others.
func TestEncodingGolden(t *testing.T) {
	want := &Token{AccessToken: "access-1", TokenType: "Bearer", RefreshToken: "refresh-1",
		Expiry:        time.Date(2026, 11, 27, 12, 15, 0, 0, time.UTC),
		RefreshExpiry: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC),
		IssuedAt:      time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	current := filepath.Join("testdata", "stored", "v1.json")
	got, err := EncodeToken(want)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(current, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(current)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(golden), got) {
		t.Errorf("EncodeToken changed the format:\n got %s\nwant %s\n(run with -update only if old readers can read it)", got, golden)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "stored", "v*.json"))
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := DecodeToken(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if tok.AccessToken != want.AccessToken || !tok.Expiry.Equal(want.Expiry) {
			t.Errorf("%s decoded to %v", f, tok)
		}
	}
}

// TestEncodingKeepsRefreshFate proves that what the store records about a
// refresh token (an intent, a re-send, a rejection) and the measured clock
// skew survive a round trip, and that the version 1 file with those fields
// decodes.
func TestEncodingKeepsRefreshFate(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "stored", "v1-marks.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := DecodeToken(b)
	if err != nil {
		t.Fatal(err)
	}
	sent, pending := tok.RefreshPending()
	want := time.Date(2026, 11, 27, 12, 14, 0, 0, time.UTC)
	if !pending || !sent.Equal(want) || !tok.fate.resent || !tok.RefreshRejected() || tok.ClockSkew != -20*time.Minute {
		t.Fatalf("decoded fate = %+v, skew %v; want sent at %v, resent, rejected, -20m", tok.fate, tok.ClockSkew, want)
	}
	if tok.RefreshUsable(want) {
		t.Error("RefreshUsable = true for a rejected, pending refresh token")
	}
	again, err := EncodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(b), again) {
		t.Errorf("round trip changed the record:\n got %s\nwant %s", again, b)
	}
	// A record holding only a refresh token (from an answer that had no
	// usable access token) is valid too.
	rtOnly, err := EncodeToken(&Token{RefreshToken: "refresh-2"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeToken(rtOnly); err != nil || got.RefreshToken != "refresh-2" || got.AccessToken != "" {
		t.Fatalf("refresh-only record decoded to %v, %v", got, err)
	}
}

// TestEncodingKeepsIDToken: an id_token is kept in the version 1 format
// (an added optional field) and survives a round trip; records without
// one decode as before.
func TestEncodingKeepsIDToken(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "stored", "v1-id-token.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := DecodeToken(b)
	if err != nil {
		t.Fatal(err)
	}
	const want = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20iLCJzdWIiOiJhbGljZSJ9."
	if tok.IDToken != want || tok.AccessToken != "access-1" {
		t.Fatalf("decoded IDToken %q, access token %q", tok.IDToken, tok.AccessToken)
	}
	again, err := EncodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(b), again) {
		t.Errorf("round trip changed the record:\n got %s\nwant %s", again, b)
	}
	old, err := os.ReadFile(filepath.Join("testdata", "stored", "v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := DecodeToken(old); err != nil || tok.IDToken != "" {
		t.Errorf("v1.json decoded to IDToken %q, %v", tok.IDToken, err)
	}
}
