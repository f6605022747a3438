package authtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPrintsNoCredential prints Options, Server and Fault every way a
// program might and looks for the password, the client secret and header
// values.
func TestPrintsNoCredential(t *testing.T) {
	o := Options{Users: map[string]string{"alice": "pw-SECRET"}, ClientSecret: "client-SECRET", ClientID: "id"}
	s := NewServer(t, o)
	f := Fault{Status: 503, Header: http.Header{"X-Api-Key": {"key-SECRET"}}, Body: "busy"}
	for name, v := range map[string]any{"Options": o, "*Options": &o, "*Server": s, "Fault": f, "*Fault": &f} {
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
		b, _ := json.Marshal(v)
		outs := []string{fmt.Sprintf("%v %+v %#v %s %q %x %d", v, v, v, v, v, v, v), text.String(), js.String(), string(b)}
		for _, out := range outs {
			if strings.Contains(out, "SECRET") || strings.Contains(out, "5345435245") {
				t.Errorf("%s prints a credential: %s", name, out)
			}
		}
	}
	if got := fmt.Sprint(s); !strings.Contains(got, s.URL) || !strings.Contains(got, "User=alice") {
		t.Errorf("Server prints as %q, want its URL and user", got)
	}
	if got := fmt.Sprint(f); got != "authtest.Fault{Status=503 Header=[X-Api-Key] Body=4 bytes}" {
		t.Errorf("Fault prints as %q", got)
	}
	if got := fmt.Sprint((*Server)(nil)); got != "authtest.Server(nil)" {
		t.Errorf("nil Server prints as %q", got)
	}
}

// TestClientAuthentication checks the default client, a custom one, a
// public client and AnyClient, by Basic and by form.
func TestClientAuthentication(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		id, sec  string
		wantCode int
	}{
		{"default", Options{}, DefaultClientID, DefaultClientSecret, 200},
		{"default, wrong secret", Options{}, DefaultClientID, "x", 401},
		{"default, no client", Options{}, "", "", 401},
		{"custom", Options{ClientID: "c", ClientSecret: "s"}, "c", "s", 200},
		{"custom, default credentials", Options{ClientID: "c", ClientSecret: "s"}, DefaultClientID, DefaultClientSecret, 401},
		{"public, no secret", Options{ClientID: "pub", PublicClient: true}, "pub", "", 200},
		{"public, any secret", Options{ClientID: "pub", PublicClient: true}, "pub", "whatever", 200},
		{"public, other id", Options{ClientID: "pub", PublicClient: true}, "other", "", 401},
		{"any client", Options{AnyClient: true}, "anyone", "", 200},
		{"any client, none", Options{AnyClient: true}, "", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t, tt.opts)
			pw := url.Values{"grant_type": {"password"}, "username": {s.User}, "password": {s.Password}}
			if r := postForm(t, s.URL, "/oauth2/token", pw, tt.id, tt.sec); r.status != tt.wantCode {
				t.Errorf("Basic: %d %s, want %d", r.status, r.body, tt.wantCode)
			}
			pw.Set("client_id", tt.id)
			pw.Set("client_secret", tt.sec)
			if r := postForm(t, s.URL, "/oauth2/token", pw, "", ""); r.status != tt.wantCode {
				t.Errorf("form: %d %s, want %d", r.status, r.body, tt.wantCode)
			}
			// The Server's own fields always work.
			pw.Set("client_id", s.ClientID)
			pw.Set("client_secret", s.ClientSecret)
			if r := postForm(t, s.URL, "/oauth2/token", pw, "", ""); r.status != http.StatusOK {
				t.Errorf("Server.ClientID/ClientSecret: %d %s, want 200", r.status, r.body)
			}
		})
	}
}
