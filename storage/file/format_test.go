package file_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

var update = flag.Bool("update", false, "rewrite the golden file of the current format version")

// goldenKey and goldenValue are what every testdata/v*.json file holds.
const (
	goldenKey   = "default"
	goldenValue = `{"version":1,"access_token":"at","refresh_token":"rt"}`
)

// TestGoldenVersions checks that every format version ever written still
// decodes. Files are never edited; -update writes only the current version.
func TestGoldenVersions(t *testing.T) {
	if *update {
		s := newStore(t)
		if err := s.Put(t.Context(), goldenKey, []byte(goldenValue)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(s.Path(goldenKey))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "v1.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "v*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s := newStore(t)
			plant(t, s, goldenKey, mustRead(t, f))
			got, err := s.Get(t.Context(), goldenKey)
			if err != nil || string(got) != goldenValue {
				t.Fatalf("Get = %q, %v; want %q", got, err, goldenValue)
			}
		})
	}
}

// TestCurrentFormatMatchesGolden catches an accidental format change: what
// Put writes today must be byte-identical to the newest golden file.
func TestCurrentFormatMatchesGolden(t *testing.T) {
	s := newStore(t)
	if err := s.Put(t.Context(), goldenKey, []byte(goldenValue)); err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, s.Path(goldenKey))
	if want := mustRead(t, filepath.Join("testdata", "v1.json")); string(got) != string(want) {
		t.Fatalf("Put wrote\n%s\nwant (testdata/v1.json)\n%s\nA format change needs a new version and golden file.", got, want)
	}
}

func TestCorruptFiles(t *testing.T) {
	good := string(mustRead(t, filepath.Join("testdata", "v1.json")))
	tests := []struct {
		name, content string
	}{
		{"empty", ""},
		{"truncated", good[:len(good)/2]},
		{"not JSON", "\x00\x01garbage"},
		{"JSON array", "[1,2]"},
		{"other format", `{"format":"something-else","version":1}`},
		{"version zero", `{"format":"tokenrefresh-store","version":0}`},
		{"version not a number", `{"format":"tokenrefresh-store","version":"1"}`},
		{"bad base64", `{"format":"tokenrefresh-store","version":1,"key":"default","data":"!!","sha256":""}`},
		{"checksum mismatch", strings.Replace(good, `"sha256":"`, `"sha256":"00`, 1)},
		{"other key", strings.Replace(good, `"key":"default"`, `"key":"other"`, 1)},
		{"data edited", strings.Replace(good, `"data":"ey`, `"data":"ez`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			plant(t, s, goldenKey, []byte(tt.content))
			_, err := s.Get(t.Context(), goldenKey)
			var ce *file.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Get = %v, want *file.CorruptError", err)
			}
			if ce.Path != s.Path(goldenKey) || !strings.Contains(err.Error(), ce.Path) {
				t.Errorf("error %q does not name the file %s", err, s.Path(goldenKey))
			}
			if strings.Contains(err.Error(), "refresh_token") {
				t.Errorf("error %q leaks file contents", err)
			}
		})
	}
}

func TestNewerVersion(t *testing.T) {
	s := newStore(t)
	plant(t, s, goldenKey, []byte(`{"format":"tokenrefresh-store","version":7,"whatever":{}}`))
	_, err := s.Get(t.Context(), goldenKey)
	var ve *file.VersionError
	if !errors.As(err, &ve) || ve.Version != 7 || ve.Path != s.Path(goldenKey) {
		t.Fatalf("Get = %v, want *file.VersionError{Version: 7} naming the file", err)
	}
}

func FuzzGet(f *testing.F) {
	f.Add(mustRead(f, filepath.Join("testdata", "v1.json")))
	f.Add([]byte(`{"format":"tokenrefresh-store","version":2}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		s := newStore(t)
		plant(t, s, goldenKey, content)
		got, err := s.Get(t.Context(), goldenKey)
		var ce *file.CorruptError
		var ve *file.VersionError
		if err != nil && !errors.As(err, &ce) && !errors.As(err, &ve) {
			t.Fatalf("Get = %v, want nil, *CorruptError or *VersionError", err)
		}
		if err == nil && got == nil {
			t.Fatal("Get = nil value, nil error")
		}
	})
}

// plant writes content as the data file of key, with the right mode.
func plant(t testing.TB, s *file.Store, key string, content []byte) {
	t.Helper()
	if err := os.WriteFile(s.Path(key), content, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
