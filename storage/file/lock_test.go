package file_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

// plantLeftover creates a temporary file of key as a writer killed before
// its rename leaves it, and returns its path.
func plantLeftover(t *testing.T, s *file.Store, key, suffix string) string {
	t.Helper()
	path := filepath.Join(s.Dir(), "."+filepath.Base(s.Path(key))+".tmp-"+suffix)
	if err := os.WriteFile(path, []byte("half a tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLockRemovesLeftoversOfItsKeyOnly(t *testing.T) {
	s := newStore(t)
	for _, k := range []string{"a", "b"} {
		if err := s.Put(t.Context(), k, []byte("value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
	goneA := []string{plantLeftover(t, s, "a", "123"), plantLeftover(t, s, "a", "456")}
	keepB := plantLeftover(t, s, "b", "789")
	// Names that only resemble a's temporary files.
	others := []string{
		filepath.Join(s.Dir(), filepath.Base(s.Path("a"))+".tmp-1"), // no leading dot
		filepath.Join(s.Dir(), "."+filepath.Base(s.Path("a"))+".bak"),
		filepath.Join(s.Dir(), "unrelated"),
	}
	for _, p := range others {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	unlock, err := s.Lock(t.Context(), "a")
	if err != nil {
		t.Fatalf("Lock = %v", err)
	}
	defer func() {
		if err := unlock(); err != nil {
			t.Error(err)
		}
	}()
	for _, p := range goneA {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("leftover %s of the locked key: Lstat = %v, want it removed", filepath.Base(p), err)
		}
	}
	for _, p := range append([]string{keepB, s.Path("a"), s.Path("b")}, others...) {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was touched by Lock(a): %v", filepath.Base(p), err)
		}
	}
	for _, k := range []string{"a", "b"} {
		if got, err := s.Get(t.Context(), k); err != nil || string(got) != "value of "+k {
			t.Errorf("Get(%s) after Lock = %q, %v", k, got, err)
		}
	}
}
