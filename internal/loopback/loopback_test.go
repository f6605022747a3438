package loopback

import (
	"net/url"
	"testing"
)

func TestSecureURL(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://auth.example.com/token", true},
		{"HTTPS://auth.example.com/token", true},
		{"http://auth.example.com/token", false},
		{"http://127.0.0.1:8080/token", true},
		{"http://127.9.9.9/token", true},
		{"http://[::1]:9000/token", true},
		{"http://localhost/token", true},
		{"http://LOCALHOST./token", true},
		{"http://api.localhost/token", false},
		{"http://evil.localhost/token", false},
		{"http://evil.localhost./token", false},
		{"http://localhost.:8080/token", true},
		{"http://LocalHost/token", true},
		{"http://localhost../token", false},
		{"http://xlocalhost/token", false},
		{"http://127.0.0.1./token", false},
		{"http://0.0.0.0/token", false},
		{"http://[::]/token", false},
		{"http://[fe80::1]/token", false},
		{"http://localhost.example.com/token", false},
		{"http://127.0.0.1.nip.io/token", false},
		{"http://10.0.0.1/token", false},
		{"http://[::ffff:127.0.0.1]/token", true},
		{"ftp://127.0.0.1/token", false},
		{"/relative", false},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := SecureURL(u); got != tc.want {
			t.Errorf("SecureURL(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST.", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"[::1]", true},
		{"a.localhost", false},
		{"localhost.localdomain", false},
		{"", false},
		{"128.0.0.1", false},
		{"::2", false},
	}
	for _, tc := range tests {
		if got := Host(tc.host); got != tc.want {
			t.Errorf("Host(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}
