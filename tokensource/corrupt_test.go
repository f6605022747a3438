package tokensource

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenrefresh/tokenrefresh/storage"
	"github.com/tokenrefresh/tokenrefresh/storage/file"
)

// fileEnv is a Source on a real file store in a temporary directory.
func fileEnv(t *testing.T) (*stEnv, *file.Store) {
	t.Helper()
	e := newSTEnv(t)
	fs, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.src.Store = fs
	return e, fs
}

func TestSourceLoginReplacesCorruptSessionKeepingItsBytes(t *testing.T) {
	for name, garbage := range map[string][]byte{
		"torn file":           []byte(`{"format":"tokenrefresh-store","version":1,"key":"k","da`),
		"unreadable envelope": []byte("\x00\x01 not json"),
	} {
		t.Run(name, func(t *testing.T) {
			e, fs := fileEnv(t)
			if err := os.WriteFile(fs.Path("k"), garbage, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := e.src.Login(context.Background()); err != nil {
				t.Fatalf("Login over a corrupt session: %v", err)
			}
			aside, _ := filepath.Glob(fs.Path("k") + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("corrupt bytes kept aside in %d files, want 1", len(aside))
			}
			if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, garbage) {
				t.Fatal("the file kept aside does not hold the corrupt bytes")
			}
			if _, err := fs.Get(context.Background(), "k"); err != nil {
				t.Fatalf("the new session was not saved: %v", err)
			}
		})
	}
}

func TestSourceNeverOverwritesANewerSession(t *testing.T) {
	for name, write := range map[string]func(fs *file.Store) error{
		"newer store format": func(fs *file.Store) error {
			return os.WriteFile(fs.Path("k"), []byte(`{"format":"tokenrefresh-store","version":7,"key":"k"}`), 0o600)
		},
		"newer token format": func(fs *file.Store) error {
			return fs.Put(context.Background(), "k", []byte(`{"version":9,"access_token":"a"}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			e, fs := fileEnv(t)
			if err := write(fs); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(fs.Path("k"))
			var ne *NewerSessionError
			if _, err := e.src.Login(context.Background()); !errors.As(err, &ne) || !errors.Is(err, storage.ErrNewerFormat) {
				t.Fatalf("Login over a newer session = %v, want NewerSessionError", err)
			}
			if _, err := e.src.Token(context.Background()); !errors.As(err, &ne) {
				t.Fatalf("Token over a newer session = %v, want NewerSessionError", err)
			}
			if _, err := e.src.Stored(context.Background()); !errors.As(err, &ne) {
				t.Fatalf("Stored over a newer session = %v, want NewerSessionError", err)
			}
			if after, _ := os.ReadFile(fs.Path("k")); !bytes.Equal(before, after) {
				t.Fatal("the newer session was modified")
			}
			if logins, _, _ := e.grant.counts(); logins != 0 {
				t.Fatalf("logins = %d, want 0: nothing may be sent that would replace the session", logins)
			}
			// Logout is the documented way out.
			if err := e.src.Logout(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := e.src.Login(context.Background()); err != nil {
				t.Fatalf("Login after Logout: %v", err)
			}
		})
	}
}
