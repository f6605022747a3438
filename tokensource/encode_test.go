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
