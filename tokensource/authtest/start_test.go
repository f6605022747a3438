package authtest

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want http://127.0.0.1:port", s.URL)
	}
	at, _ := login(t, s.URL)
	if got := get(t, s.URL, "/api/profile", at); got.status != http.StatusOK {
		t.Errorf("profile via New = %d, want 200", got.status)
	}
	if st := s.Counters(); st.Logins != 1 || st.Resources != 1 {
		t.Errorf("Counters() = %+v", st)
	}

	// Close does not wait for delayed requests.
	s.SetDelay("/api/items", time.Hour)
	done := make(chan error, 1)
	go func() {
		resp, err := s.Client().Get(s.APIURL("items"))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "the request to be delayed", func() bool { return s.waiting.Load() == 1 })
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("delayed request during Close: %v, want an answer", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after Close")
	}
}

func TestNewRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "example.com:80", "no-port"} {
		if s, err := New(Options{Addr: addr}); err == nil {
			_ = s.Close()
			t.Errorf("New(Addr %q) succeeded, want an error", addr)
		}
	}
	for _, addr := range []string{"localhost:0", "127.0.0.1:0"} {
		s, err := New(Options{Addr: addr})
		if err != nil {
			t.Errorf("New(Addr %q): %v", addr, err)
			continue
		}
		_ = s.Close()
	}
	s, err := New(Options{Addr: "0.0.0.0:0", AllowNonLoopback: true})
	if err != nil {
		t.Fatalf("New(0.0.0.0:0, AllowNonLoopback): %v", err)
	}
	_ = s.Close()
}

// TestNewServer checks the testing.TB constructor: its defaults, that it
// closes at cleanup, and that it fails the test when it cannot listen.
func TestNewServer(t *testing.T) {
	var srv *Server
	t.Run("inner", func(t *testing.T) {
		srv = NewServer(t, Options{})
		if srv.User != DefaultUser || srv.Password != DefaultPassword ||
			srv.ClientID != DefaultClientID || srv.ClientSecret != DefaultClientSecret {
			t.Errorf("credentials = %s/%s, %s/%s; want the defaults", srv.User, srv.Password, srv.ClientID, srv.ClientSecret)
		}
		want := map[string]string{
			srv.TokenURL(): "/oauth2/token", srv.RevokeURL(): "/oauth2/revoke", srv.LoginURL(): "/auth/login",
			srv.RefreshURL(): "/auth/refresh", srv.LogoutURL(): "/auth/logout",
			srv.APIURL("/items/1"): "/api/items/1", srv.APIURL("items"): "/api/items",
		}
		for u, path := range want {
			if u != srv.URL+path {
				t.Errorf("URL %q, want %q", u, srv.URL+path)
			}
		}
	})
	select {
	case <-srv.Done():
	default:
		t.Fatal("NewServer's server still serving after its test ended")
	}
	if _, err := srv.Client().Get(srv.URL); err == nil {
		t.Error("closed server answered")
	}

	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine, as in a real test
		defer close(done)
		NewServer(tb, Options{Addr: "0.0.0.0:0"})
	}()
	<-done
	if !strings.Contains(tb.msg, "not loopback") {
		t.Errorf("NewServer with a bad address: Fatalf(%q), want not loopback", tb.msg)
	}
}

// fatalTB records Fatalf and ends the goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestFirstUser(t *testing.T) {
	s := NewServer(t, Options{Users: map[string]string{"zoe": "z", "bob": "b"}})
	if s.User != "bob" || s.Password != "b" {
		t.Errorf("User, Password = %q, %q; want the first user, bob", s.User, s.Password)
	}
	if s := NewServer(t, Options{Users: map[string]string{}}); s.User != "" || s.Password != "" {
		t.Errorf("no users: User, Password = %q, %q; want empty", s.User, s.Password)
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
