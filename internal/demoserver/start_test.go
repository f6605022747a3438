package demoserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	run, err := Start("", Config{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = run.Close() })
	if !strings.HasPrefix(run.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want http://127.0.0.1:port", run.URL)
	}
	at, _ := login(t, run.URL)
	if got := get(t, run.URL, "/api/profile", at); got.status != http.StatusOK {
		t.Errorf("profile via Start = %d, want 200", got.status)
	}
	if st := run.Server.Stats(); st.Logins != 1 || st.Resources != 1 {
		t.Errorf("Stats() = %+v", st)
	}

	// Close does not wait for delayed requests.
	run.Server.SetDelay("/api/items", time.Hour)
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(run.URL + "/api/items")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "the request to be delayed", func() bool { return run.Server.waiting.Load() == 1 })
	if err := run.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("delayed request during Close: %v, want an answer", err)
	}
	if err := run.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case <-run.Done():
	default:
		t.Error("Done not closed after Close")
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "example.com:80", "no-port"} {
		if run, err := Start(addr, Config{}); err == nil {
			_ = run.Close()
			t.Errorf("Start(%q) succeeded, want an error", addr)
		}
	}
	for _, addr := range []string{"localhost:0", "127.0.0.1:0"} {
		run, err := Start(addr, Config{})
		if err != nil {
			t.Errorf("Start(%q): %v", addr, err)
			continue
		}
		_ = run.Close()
	}
}

func TestStartContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	run, err := StartContext(ctx, "", Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Close() })
	cancel()
	select {
	case <-run.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("server still serving 30s after its context was cancelled")
	}
}

func TestLoadUsers(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		wantErr  string
	}{
		{"ok", "# users\nalice:wonderland\n\n  bob : pw:with:colons  \n", map[string]string{"alice": "wonderland", "bob": "pw:with:colons"}, ""},
		{"empty", "", map[string]string{}, ""},
		{"no colon", "alice\n", nil, "line 1"},
		{"empty password", "alice:wonderland\nbob:\n", nil, "line 2"},
		{"empty user", ":pw\n", nil, "line 1"},
		{"duplicate", "a:x\na:hidden-pw\n", nil, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadUsers(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "hidden-pw") {
					t.Fatalf("LoadUsers error = %v, want one mentioning %q and no password", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadUsers: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("LoadUsers = %v, want %v", got, tt.want)
			}
			for u, p := range tt.want {
				if got[u] != p {
					t.Errorf("user %q: password mismatch", u)
				}
			}
		})
	}
}

func FuzzLoadUsers(f *testing.F) {
	f.Add("alice:wonderland\n# c\nbob:x:y\n")
	f.Add(":\n\n#")
	f.Fuzz(func(t *testing.T, in string) {
		users, err := LoadUsers(strings.NewReader(in))
		if err != nil {
			return
		}
		for u, p := range users {
			if u == "" || p == "" || strings.ContainsAny(u, ":\n") || strings.HasPrefix(u, "#") {
				t.Errorf("LoadUsers(%q) accepted user %q / password len %d", in, u, len(p))
			}
		}
	})
}
