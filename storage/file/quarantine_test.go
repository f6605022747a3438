package file

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage"
)

func TestQuarantineKeepsTheBytesAside(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Quarantine(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Quarantine of a missing key = %v, want ErrNotFound", err)
	}
	garbage := []byte("torn{")
	if err := os.WriteFile(s.Path("k"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "k")
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Get of a torn file = %v, want a CorruptError matching storage.ErrCorrupt", err)
	}
	where, err := s.Quarantine(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(where) != s.Dir() || !strings.HasPrefix(filepath.Base(where), filepath.Base(s.Path("k"))+".corrupt-") {
		t.Fatalf("kept aside at %s, want a .corrupt- file beside the data file", where)
	}
	if b, _ := os.ReadFile(where); !bytes.Equal(b, garbage) {
		t.Fatal("the quarantined file lost its bytes")
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get after Quarantine = %v, want ErrNotFound", err)
	}
	// Taking the lock (which cleans leftovers of killed writes) leaves it.
	unlock, err := s.Lock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	_ = unlock()
	if _, err := os.Stat(where); err != nil {
		t.Fatalf("the quarantined file is gone after Lock: %v", err)
	}
}

func TestVersionErrorMatchesNewerFormat(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path("k"), []byte(`{"format":"tokenrefresh-store","version":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(context.Background(), "k")
	var ve *VersionError
	if !errors.As(err, &ve) || !errors.Is(err, storage.ErrNewerFormat) || errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Get of a newer file = %v, want a VersionError matching ErrNewerFormat only", err)
	}
}
